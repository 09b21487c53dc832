// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the figures were measured.
type machine struct {
	CPU     string
	CPUs    int
	MemGiB  float64
	Kernel  string
	Go      string
	FSType  string // of the data directory
	Device  string // the mount's source, e.g. /dev/vda
	Disk    string // what /sys says about the device
	Mount   string
	DataDir string
}

func describeMachine(dataDir string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), DataDir: dataDir}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kib, _ := strconv.ParseFloat(f[1], 64)
				m.MemGiB = kib / (1 << 20)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	} else {
		m.Kernel = runtime.GOOS
	}
	m.Mount, m.FSType, m.Device = mountOf(dataDir)
	m.Disk = diskOf(m.Device)
	return m
}

// mountOf finds the mount holding path in /proc/self/mountinfo: its mount
// point, file system type and source.
func mountOf(path string) (mount, fstype, source string) {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// id parent major:minor root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := f[4]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(mount) {
			mount, fstype, source = mp, g[0], g[1]
		}
	}
	return mount, fstype, source
}

// diskOf says what kind of block device dev is: its driver (virtio_blk
// for a virtual disk) and whether it is rotational.
func diskOf(dev string) string {
	name := strings.TrimPrefix(dev, "/dev/")
	if name == dev || name == "" {
		return ""
	}
	sys := filepath.Join("/sys/class/block", name)
	if _, err := os.Stat(sys); err != nil {
		return ""
	}
	// A partition's queue is its parent's.
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		if p, err := filepath.EvalSymlinks(sys); err == nil {
			sys = filepath.Dir(p)
		}
	}
	var parts []string
	if drv, err := filepath.EvalSymlinks(filepath.Join(sys, "device", "driver")); err == nil {
		d := filepath.Base(drv)
		if strings.HasPrefix(d, "virtio") || strings.HasPrefix(d, "xen") || strings.HasPrefix(d, "vmw") {
			d = "virtual disk (" + d + ")"
		}
		parts = append(parts, d)
	}
	if b, err := os.ReadFile(filepath.Join(sys, "queue", "rotational")); err == nil {
		parts = append(parts, "queue/rotational="+strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile(filepath.Join(sys, "size")); err == nil {
		if sectors, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			parts = append(parts, fmt.Sprintf("%.0f GiB", sectors*512/(1<<30)))
		}
	}
	return strings.Join(parts, ", ")
}

// Summary is one line for the terminal.
func (m machine) Summary() string {
	return fmt.Sprintf("%d CPUs (%s), %.0f GiB RAM, %s; data on %s %s (%s); %s",
		m.CPUs, m.CPU, m.MemGiB, m.Kernel, m.FSType, m.Device, m.Disk, m.Go)
}
