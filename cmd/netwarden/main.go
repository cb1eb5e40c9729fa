// Command netwarden decides, explains, proves and enforces Kubernetes NetworkPolicy.
package main

import "github.com/netwarden/netwarden/internal/cli"

func main() { cli.Run() }
