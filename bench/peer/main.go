// Command strata-peer serves one of containerd's own snapshotters (overlayfs
// by default, or native) over the same gRPC unix-socket API Strata serves,
// through containerd's contrib/snapshotservice, so one client can measure
// both side by side. Built by bench/build-go.sh.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/contrib/snapshotservice"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/native"
	"github.com/containerd/containerd/snapshots/overlay"
	"google.golang.org/grpc"
)

func main() {
	root := flag.String("root", "", "state directory")
	address := flag.String("address", "", "unix socket to serve on")
	kind := flag.String("snapshotter", "overlayfs", "overlayfs or native")
	flag.Parse()
	if *root == "" || *address == "" {
		fmt.Fprintln(os.Stderr, "usage: strata-peer --root DIR --address SOCK [--snapshotter overlayfs|native]")
		os.Exit(2)
	}
	var (
		sn  snapshots.Snapshotter
		err error
	)
	switch *kind {
	case "overlayfs":
		sn, err = overlay.NewSnapshotter(*root)
	case "native":
		sn, err = native.NewSnapshotter(*root)
	default:
		err = fmt.Errorf("unknown snapshotter %q", *kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "strata-peer:", err)
		os.Exit(1)
	}
	os.Remove(*address)
	l, err := net.Listen("unix", *address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "strata-peer:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(srv, snapshotservice.FromSnapshotter(sn))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		srv.GracefulStop()
	}()
	if err := srv.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "strata-peer:", err)
	}
	sn.Close()
}
