// Command strata-applier extracts one layer with containerd's own applier
// code (archive.Apply, with overlay whiteout conversion, after
// compression.DecompressStream), as containerd's walking differ does, so
// bench/extract.sh can time it beside Strata on the same data. Built by
// bench/build-go.sh.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/archive/compression"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: strata-applier LAYER TARGET-DIR")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := compression.DecompressStream(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	n, err := archive.Apply(context.Background(), os.Args[2], r,
		archive.WithConvertWhiteout(archive.OverlayConvertWhiteout))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(n)
}
