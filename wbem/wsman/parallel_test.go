package wsman

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

func TestItemEncoderMatchesOneByOne(t *testing.T) {
	e := &enumeration{mode: modeObjectEPR}
	insts := make([]*cim.Instance, 1000)
	var want []byte
	var wantMarks []int
	for i := range insts {
		inst := cim.NewInstance("T_Gen")
		inst.Set("Id", cim.NewString(fmt.Sprintf("g%07d", i)))
		inst.Set("Payload", cim.NewString(strings.Repeat("<&>", i%50)))
		inst.Path = cim.NewInstancePath("root/test", "T_Gen", cim.KeyBinding{Name: "Id", Value: inst.Get("Id")})
		insts[i] = inst
		wantMarks = append(wantMarks, len(want))
		want, _ = e.encode(want, inst)
	}
	w := newItemEncoder(e, len(insts), new(sync.Pool))
	if w == nil {
		t.Skip("one CPU: Pulls are encoded on the pulling goroutine")
	}
	for _, inst := range insts {
		w.add(inst)
	}
	var got []byte
	var marks []int
	if err := w.place(&got, func(mark int) { marks = append(marks, mark) }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || fmt.Sprint(marks) != fmt.Sprint(wantMarks) {
		t.Errorf("%d octets, %d items placed; encoded one by one: %d octets, %d items", len(got), len(marks), len(want), len(wantMarks))
	}
}

func TestItemEncoderPanicIsAnError(t *testing.T) {
	e := &enumeration{}
	w := newItemEncoder(e, 200, new(sync.Pool))
	if w == nil {
		t.Skip("one CPU: Pulls are encoded on the pulling goroutine")
	}
	for i := 0; i < 200; i++ {
		inst := cim.NewInstance("T_Gen")
		if i == 150 {
			inst = nil // encoding it panics
		}
		w.add(inst)
	}
	var got []byte
	placed := 0
	err := w.place(&got, func(int) { placed++ })
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("error %v, want an internal error", err)
	}
	if placed >= 150 {
		t.Errorf("%d items placed, want those before the failing batch only", placed)
	}
}
