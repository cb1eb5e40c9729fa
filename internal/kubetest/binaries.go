package kubetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KubeVersion is the kube-apiserver version that hack/kube-testbin.sh builds
// and that the default cache directory is keyed by.
const KubeVersion = "v1.37.2"

// Environment variables read by this package.
const (
	// EnvTestBin names the directory holding kube-apiserver and etcd.
	EnvTestBin = "NETWARDEN_TESTBIN"
	// EnvRequire, when "1" (or "true"), turns a skip for missing binaries
	// into a test failure, so CI cannot pass by silently skipping.
	EnvRequire = "NETWARDEN_REQUIRE_APISERVER"
	// EnvKeep, when "1", keeps the temporary directory (data, certs, logs)
	// after the test instead of removing it, and logs its path.
	EnvKeep = "NETWARDEN_KUBETEST_KEEP"
)

// ErrNoBinaries is wrapped by the error New returns when kube-apiserver or
// etcd cannot be found.
var ErrNoBinaries = errors.New("kube-apiserver/etcd test binaries not found")

// Binaries are the paths of the two server binaries.
type Binaries struct {
	Dir       string
	APIServer string
	Etcd      string
}

// DefaultBinDir is where hack/kube-testbin.sh puts the binaries when
// NETWARDEN_TESTBIN is unset: $HOME/.cache/netwarden/testbin/<KubeVersion>.
func DefaultBinDir() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "netwarden", "testbin", KubeVersion)
}

// FindBinaries looks for kube-apiserver and etcd in $NETWARDEN_TESTBIN, or in
// DefaultBinDir when that is unset. The error wraps ErrNoBinaries and says
// how to build them.
func FindBinaries() (Binaries, error) {
	dir := os.Getenv(EnvTestBin)
	if dir == "" {
		dir = DefaultBinDir()
	}
	b := Binaries{
		Dir:       dir,
		APIServer: filepath.Join(dir, "kube-apiserver"),
		Etcd:      filepath.Join(dir, "etcd"),
	}
	for _, p := range []string{b.Etcd, b.APIServer} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return b, fmt.Errorf("%w: no executable %s; run hack/kube-testbin.sh "+
				"(builds them into %s, ~20 min the first time) or set %s to a directory holding them",
				ErrNoBinaries, p, dir, EnvTestBin)
		}
	}
	return b, nil
}

func envTrue(name string) bool {
	switch os.Getenv(name) {
	case "1", "true", "TRUE", "True", "yes":
		return true
	}
	return false
}
