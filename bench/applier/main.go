// Command strata-applier extracts one layer with containerd's own applier
// code (archive.Apply after compression.DecompressStream), as containerd's
// walking differ does, so bench/extract.sh can time it beside Strata on the
// same data and tests/e2e/compare.sh can apply layers exactly as containerd
// would. By default whiteouts become overlay whiteouts (the overlayfs
// snapshotter's form); with -naive they delete files (a plain directory
// tree, as on the native snapshotter). Built by bench/build-go.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/archive/compression"
)

func main() {
	naive := flag.Bool("naive", false, "whiteouts delete (no overlay conversion)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: strata-applier [-naive] LAYER TARGET-DIR")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
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
	var opts []archive.ApplyOpt
	if !*naive {
		opts = append(opts, archive.WithConvertWhiteout(archive.OverlayConvertWhiteout))
	}
	n, err := archive.Apply(context.Background(), flag.Arg(1), r, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(n)
}
