package libvirt

import (
	"context"
	"fmt"
	"strconv"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

// Stats implements hypervisor.Machine with one virConnectGetAllDomainStats
// call (state, CPU, balloon, vCPU, block and interface groups) and the live
// XML, which maps libvirt's device names back to hypercim's IDs. A machine
// that is not running reports its state and zero counters.
func (m *Machine) Stats(ctx context.Context) (hypervisor.Stats, error) {
	st, active, err := m.status()
	if err != nil {
		return hypervisor.Stats{State: st}, err
	}
	out := hypervisor.Stats{State: st}
	if !active {
		return out, nil
	}
	conn, err := m.e.client()
	if err != nil {
		return out, err
	}
	groups := golibvirt.DomainStatsState | golibvirt.DomainStatsCPUTotal | golibvirt.DomainStatsBalloon |
		golibvirt.DomainStatsVCPU | golibvirt.DomainStatsInterface | golibvirt.DomainStatsBlock
	recs, err := conn.ConnectGetAllDomainStats([]golibvirt.Domain{m.dom()}, uint32(groups), 0)
	if err != nil {
		return out, m.fail("stats", err)
	}
	if len(recs) != 1 {
		return out, fmt.Errorf("libvirt: stats: %w: libvirtd returned %d records for one domain", hypervisor.ErrNotFound, len(recs))
	}
	text, err := conn.DomainGetXMLDesc(m.dom(), 0)
	if err != nil {
		return out, m.fail("stats", err)
	}
	live, err := parseDomainXML(text)
	if err != nil {
		return out, err
	}
	fillStats(&out, recs[0].Params, live, time.Now())
	return out, nil
}

// fillStats decodes the typed parameters of one domain's stats record.
func fillStats(out *hypervisor.Stats, params []golibvirt.TypedParam, live definition, now time.Time) {
	v := map[string]uint64{}
	names := map[string]string{}
	for _, p := range params {
		switch x := p.Value.I.(type) {
		case string:
			names[p.Field] = x
		default:
			if n, ok := number(x); ok {
				v[p.Field] = n
			}
		}
	}
	if !live.started.IsZero() {
		out.Uptime = max(now.Sub(live.started), 0)
	}
	out.VCPUs = int(v["vcpu.current"])
	out.MemoryBytes = v["balloon.current"] << 10
	var vcpuNanos uint64
	for i := range int(v["vcpu.maximum"]) {
		vcpuNanos += v["vcpu."+strconv.Itoa(i)+".time"]
	}
	if vcpuNanos == 0 {
		vcpuNanos = v["cpu.time"]
	}
	out.VCPUTime = time.Duration(vcpuNanos)

	diskIDs := map[string]string{}
	for id, target := range live.targets {
		diskIDs[target] = id
	}
	for i := range int(v["block.count"]) {
		p := "block." + strconv.Itoa(i) + "."
		id, ok := diskIDs[names[p+"name"]]
		if !ok {
			continue
		}
		out.Disks = append(out.Disks, hypervisor.DiskStats{
			ID:      id,
			ReadOps: v[p+"rd.reqs"], ReadBytes: v[p+"rd.bytes"],
			WriteOps: v[p+"wr.reqs"], WriteBytes: v[p+"wr.bytes"],
			FlushOps: v[p+"fl.reqs"],
		})
	}
	for i := range int(v["net.count"]) {
		p := "net." + strconv.Itoa(i) + "."
		id, ok := live.taps[names[p+"name"]]
		if !ok {
			continue
		}
		out.NICs = append(out.NICs, hypervisor.NICStats{
			ID:      id,
			RxBytes: v[p+"rx.bytes"], RxPackets: v[p+"rx.pkts"], RxDropped: v[p+"rx.drop"],
			TxBytes: v[p+"tx.bytes"], TxPackets: v[p+"tx.pkts"], TxDropped: v[p+"tx.drop"],
		})
	}
}

// number converts the numeric variants of a typed parameter; negative
// values (libvirt's "unknown") become absent.
func number(x any) (uint64, bool) {
	switch n := x.(type) {
	case int32:
		return uint64(n), n >= 0
	case uint32:
		return uint64(n), true
	case int64:
		return uint64(n), n >= 0
	case uint64:
		return n, true
	case float64:
		return uint64(n), n >= 0
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
