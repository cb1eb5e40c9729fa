package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
)

// NamePrefix starts the name of every network namespace a testbed creates. A run's names
// are NamePrefix + "<pid>-<random>-" + a role ("n0" for a node, "p3" for a pod, "fab" for
// the fabric), so the leftovers of a run that crashed can be found and removed, and runs
// of different processes never touch each other's namespaces.
const NamePrefix = "nwtb-"

// netnsDir is where named network namespaces are bind-mounted (as by `ip netns add`).
const netnsDir = "/run/netns"

// NetnsPath is the path of a named network namespace, as dataplane.Open takes it.
func NetnsPath(name string) string { return filepath.Join(netnsDir, name) }

func newRunPrefix() string {
	var b [3]byte
	rand.Read(b[:])
	return NamePrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:]) + "-"
}

// inNetns runs f on an OS thread that is switched into ns for the call. Sockets f creates
// belong to ns for their whole life, wherever they are used later. The thread is switched
// back afterwards; if that fails it is never unlocked, so the runtime retires it rather
// than let other goroutines run in the wrong namespace.
func inNetns(ns netns.NsHandle, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- fmt.Errorf("reading the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		ferr := f()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- ferr
	}()
	return <-done
}

// createNetns creates a named network namespace and returns a handle to it, leaving the
// caller's namespace as it was.
func createNetns(name string) (netns.NsHandle, error) {
	if err := live.creating(); err != nil {
		return netns.None(), err
	}
	defer live.created()
	type result struct {
		h   netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- result{netns.None(), err}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		if err != nil {
			// NewNamed may have unshared before failing to mount; the name, if it was
			// created, must not linger.
			os.Remove(NetnsPath(name))
			done <- result{netns.None(), fmt.Errorf("creating network namespace %s: %w", name, err)}
			return
		}
		done <- result{h, nil}
	}()
	r := <-done
	return r.h, r.err
}

// deleteNetns removes a named network namespace. The namespace itself goes away when the
// last socket or handle in it is closed.
func deleteNetns(name string) error {
	err := netns.DeleteNamed(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// Unmounted but not removed, or never mounted: try to remove the file anyway.
		if rerr := os.Remove(NetnsPath(name)); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("deleting network namespace %s: %w", name, err)
	}
	return nil
}

// List returns the named network namespaces whose names start with prefix, sorted.
func List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Cleanup removes every network namespace whose name starts with prefix, with everything
// in it (links, routes, nftables tables), and returns the names removed. Pass a run's
// prefix (Testbed.Prefix) to remove one run, or NamePrefix to remove every testbed's
// namespaces, including those of runs still going.
func Cleanup(prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("testbed.Cleanup: empty prefix would match every network namespace")
	}
	names, err := List(prefix)
	if err != nil {
		return nil, err
	}
	var errs []error
	var removed []string
	for _, n := range names {
		if err := deleteNetns(n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n)
	}
	return removed, errors.Join(errs...)
}

// CleanupStale removes the namespaces of testbed runs whose process no longer exists (a
// run killed before it could clean up) and returns the names removed.
func CleanupStale() ([]string, error) {
	names, err := List(NamePrefix)
	if err != nil {
		return nil, err
	}
	stale := map[string]bool{}
	for _, n := range names {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(n, NamePrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pidText); errors.Is(err, os.ErrNotExist) {
			stale[NamePrefix+strconv.Itoa(pid)+"-"] = true
		}
	}
	var removed []string
	var errs []error
	for p := range stale {
		r, err := Cleanup(p)
		removed = append(removed, r...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}
