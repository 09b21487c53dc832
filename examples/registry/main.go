// SPDX-License-Identifier: MIT OR Apache-2.0

// Command registry keeps a small service registry with ministate: it adds,
// updates and removes entries (three mutation kinds in one journal),
// refuses changes that make no sense, snapshots and compacts, then
// restarts and finds everything again. It works in a temporary directory.
//
//	go run ./examples/registry
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

// Catalog is the state: the registered services by name.
type Catalog struct {
	Services map[string]Service `json:"services"`
}

// Service is one entry.
type Service struct {
	Addr    string   `json:"addr"`
	Tags    []string `json:"tags,omitempty"`
	Version int      `json:"version"`
}

// Clone makes Catalog a ministate.Cloner: copies and snapshot captures
// use it instead of a JSON round trip.
func (c *Catalog) Clone() Catalog {
	out := Catalog{Services: make(map[string]Service, len(c.Services))}
	for name, s := range c.Services {
		s.Tags = slices.Clone(s.Tags)
		out.Services[name] = s
	}
	return out
}

// AddService registers a new service.
type AddService struct {
	Name string   `json:"name"`
	Addr string   `json:"addr"`
	Tags []string `json:"tags,omitempty"`
}

func (a AddService) Validate(c *Catalog) error {
	if a.Name == "" || a.Addr == "" {
		return errors.New("a service needs a name and an address")
	}
	if _, ok := c.Services[a.Name]; ok {
		return fmt.Errorf("service %q exists already", a.Name)
	}
	return nil
}

func (a AddService) Apply(c *Catalog) {
	if c.Services == nil {
		c.Services = map[string]Service{}
	}
	c.Services[a.Name] = Service{Addr: a.Addr, Tags: slices.Clone(a.Tags), Version: 1}
}

// UpdateService moves a service to a new address.
type UpdateService struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

func (u UpdateService) Validate(c *Catalog) error {
	if _, ok := c.Services[u.Name]; !ok {
		return fmt.Errorf("no service %q to update", u.Name)
	}
	return nil
}

func (u UpdateService) Apply(c *Catalog) {
	s := c.Services[u.Name]
	s.Addr = u.Addr
	s.Version++
	c.Services[u.Name] = s
}

// RemoveService drops a service.
type RemoveService struct {
	Name string `json:"name"`
}

func (r RemoveService) Validate(c *Catalog) error {
	if _, ok := c.Services[r.Name]; !ok {
		return fmt.Errorf("no service %q to remove", r.Name)
	}
	return nil
}

func (r RemoveService) Apply(c *Catalog) { delete(c.Services, r.Name) }

// Mutation is what the registry's journal holds: any of the three kinds.
type Mutation = ministate.Mutator[Catalog]

func main() {
	dir, err := os.MkdirTemp("", "mini-registry-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(os.Stdout, dir); err != nil {
		log.Fatal(err)
	}
}

func open(dir string) (*ministate.Manager[Catalog, Mutation], error) {
	kinds := ministate.NewRegistry[Catalog]()
	ministate.Register[AddService](kinds, "AddService")
	ministate.Register[UpdateService](kinds, "UpdateService")
	ministate.Register[RemoveService](kinds, "RemoveService")
	return ministate.Open[Catalog, Mutation](dir, "registry.log", &ministate.Options{
		Registry:      kinds,
		SnapshotEvery: 4, // every 4 records: snapshot, then compact
	})
}

// run does the tour in dir, printing to out.
func run(out io.Writer, dir string) error {
	// 1. Start: the catalog is empty.
	reg, err := open(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "started at record %d\n", reg.Sequence())

	// 2. Change it; each Apply is durable when it returns.
	for _, m := range []Mutation{
		AddService{Name: "api", Addr: "10.0.0.1:8080", Tags: []string{"http"}},
		AddService{Name: "db", Addr: "10.0.0.2:5432"},
		AddService{Name: "cache", Addr: "10.0.0.3:6379"},
		UpdateService{Name: "api", Addr: "10.0.0.9:8080"}, // the 4th record: automatic snapshot
		RemoveService{Name: "cache"},
	} {
		seq, err := reg.Apply(m)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "#%d %T\n", seq, m)
	}
	snap, _ := reg.SnapshotSeq()
	fmt.Fprintf(out, "automatic snapshot at record %d\n", snap)

	// 3. Changes that make no sense are refused, and leave no trace.
	for _, m := range []Mutation{
		AddService{Name: "db", Addr: "10.0.0.7:5432"},
		RemoveService{Name: "ghost"},
	} {
		_, err := reg.Apply(m)
		fmt.Fprintf(out, "refused=%v: %v\n", errors.Is(err, ministate.ErrRefused), err)
	}

	// 4. A batch is one record: all of it survives a crash, or none.
	seq, err := reg.ApplyBatch(
		AddService{Name: "queue", Addr: "10.0.0.4:4222"},
		AddService{Name: "search", Addr: "10.0.0.5:9200", Tags: []string{"http", "internal"}},
	)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "#%d batch of 2\n", seq)

	// 5. Snapshot and compact by hand: the journal keeps only what the
	// snapshot does not cover (and its newest record).
	if snap, err = reg.Compact(); err != nil {
		return err
	}
	fmt.Fprintf(out, "compacted behind the snapshot at record %d; the journal holds:\n", snap)
	for rec, err := range ministore.Records[json.RawMessage](reg.JournalPath(), 0) {
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  #%d %s\n", rec.Seq, rec.Value)
	}
	if err := reg.Close(); err != nil {
		return err
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*"))
	for _, s := range snaps {
		fmt.Fprintf(out, "snapshot folder %s\n", filepath.Base(s))
	}

	// 6. Restart: the snapshot plus the journal's tail give the catalog back.
	reg, err = open(dir)
	if err != nil {
		return err
	}
	defer reg.Close()
	snap, _ = reg.SnapshotSeq()
	fmt.Fprintf(out, "restarted at record %d (snapshot %d)\n", reg.Sequence(), snap)
	seq, err = reg.Apply(UpdateService{Name: "db", Addr: "10.0.0.8:5432"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "#%d UpdateService db\n", seq)

	// 7. Read in place, or take a deep copy to keep.
	reg.View(func(c *Catalog) { printCatalog(out, c) })
	c, err := reg.Copy()
	if err != nil {
		return err
	}
	c.Services["api"].Tags[0] = "changed in the copy"
	reg.View(func(c *Catalog) { fmt.Fprintf(out, "api tags after changing the copy: %v\n", c.Services["api"].Tags) })
	return nil
}

func printCatalog(out io.Writer, c *Catalog) {
	fmt.Fprintln(out, "catalog:")
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		s := c.Services[name]
		fmt.Fprintf(out, "  %-7s %-15s v%d %s\n", name, s.Addr, s.Version, strings.Join(s.Tags, ","))
	}
}
