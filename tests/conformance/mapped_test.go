package conformance

// The same suite with every Prepare and View carrying containerd's user
// namespace mapping labels (issue 17), against a daemon started with
// --remap-ids on: mapped snapshots must behave as any other in every respect
// the suite checks.
//
// containerd 1.6's mount code (which the suite mounts with) knows nothing of
// the uidmap=/gidmap= options, so this wrapper turns them into idmapped
// mounts the way containerd 2.x's mount code does (core/mount/mount_linux.go,
// 2.1): for an overlay, one read-only idmapped clone of the lower layers'
// common directory, the lowerdirs rewritten into it, the upper untouched;
// for a read-write bind, an idmapped clone of its source; a read-only bind
// is left unmapped, as containerd leaves it.
//
// The map swaps IDs 0 and 1 and keeps the rest: the suite runs as host root
// and chowns to 1, so every ID it uses is in the map, and every owner it
// reads has been through the mapping both ways (a layer written through a
// mapped mount is stored with the other ID, and must read back as written).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/testsuite"
	"golang.org/x/sys/unix"
)

const (
	uidLabel   = "containerd.io/snapshot/uidmapping"
	gidLabel   = "containerd.io/snapshot/gidmapping"
	swapIDsMap = "0:1:1,1:0:1,2:2:65534"
)

func TestSnapshotterSuiteMapped(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the snapshotter suite mounts overlayfs and idmapped mounts: run as root")
	}
	testsuite.SnapshotterSuite(t, "StrataMapped", func(ctx context.Context, root string) (snapshots.Snapshotter, func() error, error) {
		sn, closeFn, err := newSnapshotterArgs(ctx, root, "--remap-ids", "on")
		if err != nil {
			return nil, nil, err
		}
		m := &mappedSnapshotter{Snapshotter: sn, tmp: filepath.Join(root, "idmapped")}
		if err := m.start(); err != nil {
			closeFn()
			return nil, nil, err
		}
		return m, func() error {
			m.stop()
			return closeFn()
		}, nil
	})
}

type mappedSnapshotter struct {
	snapshots.Snapshotter
	tmp     string
	userns  *exec.Cmd
	nsFile  *os.File
	mu      sync.Mutex
	clones  map[string]string // source (and ro) -> its idmapped clone
	counter int
}

// start makes the user namespace the mounts are idmapped to: a child
// process in it holds it while the test runs (containerd 2.x does the same
// with a stopped child).
func (m *mappedSnapshotter) start() error {
	if err := os.MkdirAll(m.tmp, 0700); err != nil {
		return err
	}
	m.clones = map[string]string{}
	maps := []syscall.SysProcIDMap{
		{ContainerID: 0, HostID: 1, Size: 1},
		{ContainerID: 1, HostID: 0, Size: 1},
		{ContainerID: 2, HostID: 2, Size: 65534},
	}
	cmd := exec.Command("sleep", "infinity")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: maps,
		GidMappings: maps,
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start a process in a user namespace: %w", err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	m.userns, m.nsFile = cmd, f
	return nil
}

func (m *mappedSnapshotter) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, dir := range m.clones {
		unix.Unmount(dir, unix.MNT_DETACH)
	}
	if m.nsFile != nil {
		m.nsFile.Close()
	}
	if m.userns != nil {
		m.userns.Process.Kill()
		m.userns.Wait()
	}
}

func withMapLabels(opts []snapshots.Opt) []snapshots.Opt {
	return append(opts, func(info *snapshots.Info) error {
		if info.Labels == nil {
			info.Labels = map[string]string{}
		}
		info.Labels[uidLabel] = swapIDsMap
		info.Labels[gidLabel] = swapIDsMap
		return nil
	})
}

func (m *mappedSnapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	ms, err := m.Snapshotter.Prepare(ctx, key, parent, withMapLabels(opts)...)
	if err != nil {
		return nil, err
	}
	return m.idmap(ms)
}

func (m *mappedSnapshotter) View(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	ms, err := m.Snapshotter.View(ctx, key, parent, withMapLabels(opts)...)
	if err != nil {
		return nil, err
	}
	return m.idmap(ms)
}

func (m *mappedSnapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	ms, err := m.Snapshotter.Mounts(ctx, key)
	if err != nil {
		return nil, err
	}
	return m.idmap(ms)
}

// idmap does what containerd 2.x's mount code does with uidmap=/gidmap=,
// leaving mounts 1.6 can mount. Options without a map are an error: every
// snapshot here is mapped.
func (m *mappedSnapshotter) idmap(ms []mount.Mount) ([]mount.Mount, error) {
	out := make([]mount.Mount, 0, len(ms))
	for _, mnt := range ms {
		var opts []string
		var uidmap, gidmap string
		ro, bind := false, false
		for _, o := range mnt.Options {
			switch {
			case strings.HasPrefix(o, "uidmap="):
				uidmap = strings.TrimPrefix(o, "uidmap=")
			case strings.HasPrefix(o, "gidmap="):
				gidmap = strings.TrimPrefix(o, "gidmap=")
			default:
				opts = append(opts, o)
				ro = ro || o == "ro"
				bind = bind || o == "bind" || o == "rbind"
			}
		}
		if uidmap != swapIDsMap || gidmap != swapIDsMap {
			return nil, fmt.Errorf("mount %+v: want uidmap= and gidmap= %s", mnt, swapIDsMap)
		}
		mnt.Options = opts
		switch {
		case mnt.Type == "overlay":
			if err := m.idmapLowers(&mnt); err != nil {
				return nil, err
			}
		case bind && !ro:
			clone, err := m.clone(mnt.Source, false)
			if err != nil {
				return nil, err
			}
			mnt.Source = clone
		}
		out = append(out, mnt)
	}
	return out, nil
}

// idmapLowers: one read-only idmapped clone of the lowerdirs' common
// directory, the lowerdirs rewritten into it.
func (m *mappedSnapshotter) idmapLowers(mnt *mount.Mount) error {
	for i, o := range mnt.Options {
		if !strings.HasPrefix(o, "lowerdir=") {
			continue
		}
		lowers := strings.Split(strings.TrimPrefix(o, "lowerdir="), ":")
		common := lowers[0]
		for _, l := range lowers[1:] {
			for !strings.HasPrefix(l, common) {
				common = common[:len(common)-1]
			}
		}
		common = filepath.Dir(common)
		if common == "/" || common == "." {
			return fmt.Errorf("lowerdirs %v have no common directory", lowers)
		}
		clone, err := m.clone(common, true)
		if err != nil {
			return err
		}
		for j, l := range lowers {
			lowers[j] = clone + strings.TrimPrefix(l, common)
		}
		mnt.Options[i] = "lowerdir=" + strings.Join(lowers, ":")
		return nil
	}
	return fmt.Errorf("overlay mount %+v has no lowerdir", *mnt)
}

// clone idmaps a detached copy of src's mount and mounts it on a new
// directory (once per src, kept until the test ends).
func (m *mappedSnapshotter) clone(src string, ro bool) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("%s ro=%v", src, ro)
	if dir, ok := m.clones[id]; ok {
		return dir, nil
	}
	m.counter++
	dir := filepath.Join(m.tmp, fmt.Sprint(m.counter))
	if err := os.Mkdir(dir, 0700); err != nil {
		return "", err
	}
	fd, err := unix.OpenTree(-1, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("open_tree %s: %w", src, err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(m.nsFile.Fd())}
	if ro {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return "", fmt.Errorf("mount_setattr idmap %s: %w", src, err)
	}
	if err := unix.MoveMount(fd, "", -1, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return "", fmt.Errorf("move_mount %s: %w", dir, err)
	}
	m.clones[id] = dir
	return dir, nil
}
