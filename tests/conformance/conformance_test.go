// Package conformance runs containerd's snapshotter test suite against
// strata-snapshotter through containerd's gRPC proxy client.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/log"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"github.com/containerd/containerd/snapshots/testsuite"
	"google.golang.org/grpc"
)

const (
	startTimeout = 5 * time.Second
	stopTimeout  = 10 * time.Second
)

// daemonBin is the strata-snapshotter binary under test ($STRATA_SNAPSHOTTER).
var daemonBin string

func TestMain(m *testing.M) {
	daemonBin = os.Getenv("STRATA_SNAPSHOTTER")
	if daemonBin == "" {
		fmt.Fprintln(os.Stderr, "STRATA_SNAPSHOTTER is not set: point it at the strata-snapshotter binary")
		os.Exit(2)
	}
	if fi, err := os.Stat(daemonBin); err != nil || fi.IsDir() || fi.Mode()&0111 == 0 {
		fmt.Fprintf(os.Stderr, "STRATA_SNAPSHOTTER=%q is not an executable file (%v)\n", daemonBin, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func TestSnapshotterSuite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the snapshotter suite mounts overlayfs and bind mounts: run as root")
	}
	testsuite.SnapshotterSuite(t, "Strata", newSnapshotter)
}

// daemon is one running strata-snapshotter process.
type daemon struct {
	cmd     *exec.Cmd
	sockDir string
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error
	logDone chan struct{} // closed once all daemon output has been read

	mu     sync.Mutex
	out    bytes.Buffer // all daemon output, for error messages
	silent bool         // set once the test may have ended: stop calling t.Log
}

// newSnapshotter is the testsuite factory: a fresh daemon per subtest,
// reached through containerd's proxy snapshotter.
func newSnapshotter(ctx context.Context, root string) (snapshots.Snapshotter, func() error, error) {
	return newSnapshotterArgs(ctx, root)
}

// newSnapshotterArgs: the same, the daemon started with extra arguments.
func newSnapshotterArgs(ctx context.Context, root string, extra ...string) (snapshots.Snapshotter, func() error, error) {
	d, err := startDaemon(ctx, root, extra...)
	if err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(d.sockDir, "strata.sock")
	if err := d.waitReady(sock); err != nil {
		d.stop()
		return nil, nil, err
	}
	conn, err := grpc.DialContext(ctx, sock,
		grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}))
	if err != nil {
		d.stop()
		return nil, nil, fmt.Errorf("grpc dial %s: %w", sock, err)
	}
	sn := proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), "strata")
	closeFn := func() error {
		cerr := conn.Close()
		if err := d.stop(); err != nil {
			return err
		}
		return cerr
	}
	return sn, closeFn, nil
}

func startDaemon(ctx context.Context, root string, extra ...string) (*daemon, error) {
	// Unix socket paths are limited to 107 bytes: keep the socket short.
	sockDir, err := os.MkdirTemp("/tmp", "sc")
	if err != nil {
		return nil, err
	}
	level := os.Getenv("STRATA_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	args := []string{
		"--root", root,
		"--address", filepath.Join(sockDir, "strata.sock"),
		"--log-level", level}
	// STRATA_BACKEND (overlay|reflink|copy|auto) picks the daemon's backend.
	if b := os.Getenv("STRATA_BACKEND"); b != "" {
		args = append(args, "--backend", b)
	}
	args = append(args, extra...)
	cmd := exec.Command(daemonBin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("start %s: %w", daemonBin, err)
	}
	w.Close()

	d := &daemon{cmd: cmd, sockDir: sockDir, exited: make(chan struct{}), logDone: make(chan struct{})}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	// Forward daemon output line by line to the test log (logtest hooks
	// log.G(ctx) to t.Log) and keep a copy for startup errors.
	go func() {
		defer close(d.logDone)
		defer r.Close()
		logger := log.G(ctx).WithField("pid", cmd.Process.Pid)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			d.mu.Lock()
			d.out.Write(sc.Bytes())
			d.out.WriteByte('\n')
			if !d.silent {
				logger.Info("strata: " + sc.Text())
			}
			d.mu.Unlock()
		}
	}()
	return d, nil
}

func (d *daemon) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// waitReady polls until the daemon accepts a connection on sock.
func (d *daemon) waitReady(sock string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.exited:
			<-d.logDone
			return fmt.Errorf("strata-snapshotter exited before serving %s: %v\ndaemon output:\n%s",
				sock, d.waitErr, d.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("strata-snapshotter did not accept connections on %s within %v (last error: %v)\ndaemon output:\n%s",
				sock, startTimeout, err, d.output())
		}
	}
}

// stop SIGTERMs the daemon and waits for it; it is killed (and an error
// returned) if it does not exit within stopTimeout or exits uncleanly.
func (d *daemon) stop() error {
	defer os.RemoveAll(d.sockDir)
	var err error
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.waitErr != nil && !terminatedBy(d.waitErr, syscall.SIGTERM) {
			err = fmt.Errorf("strata-snapshotter exited uncleanly after SIGTERM: %w", d.waitErr)
		}
	case <-time.After(stopTimeout):
		_ = d.cmd.Process.Kill()
		<-d.exited
		err = fmt.Errorf("strata-snapshotter did not exit within %v of SIGTERM; killed", stopTimeout)
	}
	select {
	case <-d.logDone:
	case <-time.After(stopTimeout): // a child may still hold the output pipe
		d.mu.Lock()
		d.silent = true
		d.mu.Unlock()
	}
	return err
}

func terminatedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
