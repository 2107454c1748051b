/* virtio drivers: legacy virtio-pci (conf1 + I/O BAR) and virtio-mmio v2
 * transports; block, entropy and network devices. Requests are synchronous:
 * submit, notify, then poll the used ring (interrupts are still taken and
 * counted, and acknowledged so level-triggered lines drop). */
#include "guest.h"

#define VIRTIO_ID_NET   1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG   4

#define ST_ACK       1
#define ST_DRIVER    2
#define ST_DRIVER_OK 4
#define ST_FEAT_OK   8

#define DESC_NEXT  1
#define DESC_WRITE 2

#define BLK_F_FLUSH 9
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14
#define NET_F_MAC   5
#define F_VERSION_1 32

#define NET_BUF  1536
#define NET_RXQ  16

struct vdev vdevs[MAX_VDEVS];
int nvdevs;

/* ---- transport access ---- */

/* PCI configuration space of bus 0 through conf1; dev is slot << 3 | fn. */
static uint32_t pci_cfg(int dev, int reg) {
	outl(0xcf8, 0x80000000u | (uint32_t)dev << 8 | (uint32_t)(reg & 0xfc));
	return inl(0xcfc);
}

static void pci_cfg_write(int dev, int reg, uint32_t v) {
	outl(0xcf8, 0x80000000u | (uint32_t)dev << 8 | (uint32_t)(reg & 0xfc));
	outl(0xcfc, v);
}

#define PCI_COMMAND_IO     1
#define PCI_COMMAND_MASTER 4
#define PCI_IO_FLOOR       0xc000 /* where firmware starts PCI I/O */

/* pci_io_top is the lowest I/O address above every I/O BAR decoded on bus
 * 0 (an I/O BAR spans at most 256 bytes). */
static uint32_t pci_io_top(void) {
	uint32_t top = PCI_IO_FLOOR;
	for (int dev = 0; dev < 256; dev++) {
		uint32_t id = pci_cfg(dev, 0);
		if ((id & 0xffff) == 0xffff) {
			if ((dev & 7) == 0) dev += 7; /* no function 0: no device */
			continue;
		}
		if (((pci_cfg(dev, 0x0c) >> 16) & 0x7f) != 0) continue; /* bridges keep theirs */
		for (int b = 0; b < 6; b++) {
			uint32_t bar = pci_cfg(dev, 0x10 + 4 * b);
			if ((bar & 1) && (bar & 0xfffc) && (bar & 0xfffc) + 0x100 > top) top = (bar & 0xfffc) + 0x100;
		}
	}
	return top;
}

/* pci_io_bar returns the I/O address of BAR 0, placing the BAR above the
 * others when it has none: firmware assigns the devices present at boot,
 * not those QEMU hot-plugs later. 0 when BAR 0 is not an I/O BAR or
 * there is no room. */
static uint32_t pci_io_bar(int dev) {
	uint32_t bar = pci_cfg(dev, 0x10);
	if (!(bar & 1)) return 0;
	if (bar & 0xfffc) return bar & 0xfffc;
	uint32_t top = pci_io_top();
	pci_cfg_write(dev, 0x10, 0xffffffff);
	uint32_t size = (~(pci_cfg(dev, 0x10) & 0xfffc) + 1) & 0xffff;
	uint32_t base = (top + size - 1) & ~(size - 1);
	if (!size || base + size > 0x10000) {
		pci_cfg_write(dev, 0x10, bar);
		return 0;
	}
	pci_cfg_write(dev, 0x10, base | 1);
	return base;
}

/* pci_irq returns the 8259 line of a device's INTx: the interrupt line
 * register when firmware (or hypercim's VMM) set it, else, for a device
 * hot-plugged into QEMU's i440FX machine, the PIIX3 route of the PIRQ its
 * slot and pin share (QEMU wires pin P, 1 for INTA, of slot S to PIRQ
 * (S - 1 + P - 1) mod 4), which it records in the register. -1 when there
 * is none. */
static int pci_irq(int dev) {
	uint32_t r = pci_cfg(dev, 0x3c);
	int line = (int)(r & 0xff), pin = (int)((r >> 8) & 0xff);
	if (line > 0 && line < 16) return line;
	if (pin < 1 || pin > 4 || pci_cfg(1 << 3, 0) != 0x70008086) return -1;
	int pirq = ((dev >> 3) - 1 + pin - 1) & 3;
	uint32_t route = (pci_cfg(1 << 3, 0x60) >> (8 * pirq)) & 0xff;
	if (route & 0x80 || route == 0 || route >= 16) return -1;
	pci_cfg_write(dev, 0x3c, (r & ~0xffu) | route);
	return (int)route;
}

static void set_status(struct vdev *d, uint8_t s) {
	if (d->transport == VT_PCI) outb((uint16_t)(d->base + 0x12), s);
	else mmio_write32(d->base + 0x70, s);
}

/* ack_isr reads and acknowledges the interrupt status, which lowers the
 * device's interrupt line, and returns it. */
static uint32_t ack_isr(struct vdev *d) {
	if (d->transport == VT_PCI) return inb((uint16_t)(d->base + 0x13));
	uint32_t isr = mmio_read32(d->base + 0x60);
	mmio_write32(d->base + 0x64, isr);
	return isr;
}

/* reset stops a device and drops an interrupt it may have left raised, so
 * that its line is quiet while it is not registered. */
static void reset(struct vdev *d) {
	set_status(d, 0);
	ack_isr(d);
}

uint8_t vdev_status(struct vdev *d) {
	if (d->transport == VT_PCI) return inb((uint16_t)(d->base + 0x12));
	return (uint8_t)mmio_read32(d->base + 0x70);
}

static void notify(struct vdev *d, int q) {
	barrier();
	if (d->transport == VT_PCI) outw((uint16_t)(d->base + 0x10), (uint16_t)q);
	else mmio_write32(d->base + 0x50, (uint32_t)q);
}

static uint8_t cfg8(struct vdev *d, int off) {
	if (d->transport == VT_PCI) return inb((uint16_t)(d->base + 0x14 + off));
	return mmio_read8(d->base + 0x100 + off);
}

static uint32_t cfg32(struct vdev *d, int off) {
	if (d->transport == VT_PCI) return inl((uint16_t)(d->base + 0x14 + off));
	return mmio_read32(d->base + 0x100 + off);
}

/* ---- virtqueues ---- */

static int setup_queue(struct vdev *d, int qi) {
	struct vq *q = &d->q[qi];
	uint32_t size;
	if (d->transport == VT_PCI) {
		outw((uint16_t)(d->base + 0x0e), (uint16_t)qi);
		size = inw((uint16_t)(d->base + 0x0c));
	} else {
		mmio_write32(d->base + 0x30, (uint32_t)qi);
		size = mmio_read32(d->base + 0x34);
		if (size > 256) size = 256;
	}
	if (!size) return -1;
	/* legacy layout: descriptors, available ring, used ring on the next page */
	uint64_t avail_off = 16ul * size;
	uint64_t used_off = (avail_off + 6 + 2ul * size + 4095) & ~4095ul;
	uint8_t *mem = alloc(used_off + 6 + 8ul * size, 4096);
	q->size = (uint16_t)size;
	q->desc = mem;
	q->avail = (volatile uint16_t *)(mem + avail_off);
	q->used = mem + used_off;
	q->last_used = 0;
	if (d->transport == VT_PCI) {
		outl((uint16_t)(d->base + 0x08), (uint32_t)((uint64_t)mem >> 12));
	} else {
		mmio_write32(d->base + 0x38, size);
		mmio_write32(d->base + 0x80, (uint32_t)(uint64_t)q->desc);
		mmio_write32(d->base + 0x84, (uint32_t)((uint64_t)q->desc >> 32));
		mmio_write32(d->base + 0x90, (uint32_t)(uint64_t)q->avail);
		mmio_write32(d->base + 0x94, (uint32_t)((uint64_t)q->avail >> 32));
		mmio_write32(d->base + 0xa0, (uint32_t)(uint64_t)q->used);
		mmio_write32(d->base + 0xa4, (uint32_t)((uint64_t)q->used >> 32));
		mmio_write32(d->base + 0x44, 1);
	}
	return 0;
}

static void set_desc(struct vq *q, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
	volatile uint8_t *e = q->desc + 16 * i;
	*(volatile uint64_t *)e = addr;
	*(volatile uint32_t *)(e + 8) = len;
	*(volatile uint16_t *)(e + 12) = flags;
	*(volatile uint16_t *)(e + 14) = next;
}

static void push_avail(struct vq *q, uint16_t head) {
	uint16_t idx = q->avail[1];
	q->avail[2 + idx % q->size] = head;
	barrier();
	q->avail[1] = (uint16_t)(idx + 1);
}

static uint16_t used_idx(struct vq *q) { return *(volatile uint16_t *)(q->used + 2); }

/* wait_used waits up to timeout ticks for the next used element. */
static int wait_used(struct vq *q, uint64_t timeout, uint32_t *len) {
	uint64_t deadline = ticks + timeout;
	for (int spins = 0; used_idx(q) == q->last_used; spins++) {
		if (ticks > deadline) return -1;
		/* Requests usually complete during the notify; for longer waits
		 * sleep until the device's interrupt or the next tick. */
		if (spins < 100) cpu_relax();
		else sti_hlt();
	}
	barrier();
	volatile uint8_t *e = q->used + 4 + 8 * (q->last_used % q->size);
	if (len) *len = *(volatile uint32_t *)(e + 4);
	q->last_used++;
	return (int)*(volatile uint32_t *)e;
}

/* ---- device setup ---- */

static int init_device(struct vdev *d) {
	uint64_t want = 0;
	if (d->type == VIRTIO_ID_BLOCK) want = 1ul << BLK_F_FLUSH | 1ul << BLK_F_DISCARD | 1ul << BLK_F_WRITE_ZEROES;
	if (d->type == VIRTIO_ID_NET) want = 1ul << NET_F_MAC;
	reset(d);
	set_status(d, ST_ACK);
	set_status(d, ST_ACK | ST_DRIVER);
	uint8_t st = ST_ACK | ST_DRIVER;
	if (d->transport == VT_PCI) {
		uint32_t host = inl((uint16_t)d->base);
		d->features = host & want;
		outl((uint16_t)(d->base + 4), (uint32_t)d->features);
	} else {
		mmio_write32(d->base + 0x14, 0);
		uint64_t host = mmio_read32(d->base + 0x10);
		mmio_write32(d->base + 0x14, 1);
		host |= (uint64_t)mmio_read32(d->base + 0x10) << 32;
		d->features = host & (want | 1ul << F_VERSION_1);
		mmio_write32(d->base + 0x24, 0);
		mmio_write32(d->base + 0x20, (uint32_t)d->features);
		mmio_write32(d->base + 0x24, 1);
		mmio_write32(d->base + 0x20, (uint32_t)(d->features >> 32));
		st |= ST_FEAT_OK;
		set_status(d, st);
		if (!(vdev_status(d) & ST_FEAT_OK)) return -1;
	}
	d->nq = d->type == VIRTIO_ID_NET ? 2 : 1;
	for (int i = 0; i < d->nq; i++)
		if (setup_queue(d, i)) return -1;
	d->status = alloc(64, 64);
	d->hdr = alloc(64, 64);
	if (d->type == VIRTIO_ID_BLOCK) d->sectors = cfg32(d, 0) | (uint64_t)cfg32(d, 4) << 32;
	if (d->type == VIRTIO_ID_NET) {
		for (int i = 0; i < 6; i++) d->mac[i] = cfg8(d, i);
		d->rxbuf = alloc(NET_BUF * NET_RXQ, 64);
	}
	set_status(d, st | ST_DRIVER_OK);
	if (d->type == VIRTIO_ID_NET) {
		struct vq *q = &d->q[0];
		for (int i = 0; i < NET_RXQ && i < q->size; i++) {
			set_desc(q, i, (uint64_t)(d->rxbuf + i * NET_BUF), NET_BUF, DESC_WRITE, 0);
			push_avail(q, (uint16_t)i);
		}
		notify(d, 0);
	}
	d->ok = 1;
	return 0;
}

/* add_device registers a device before starting it: once its queues are
 * live it may interrupt (a network adapter as soon as a frame arrives), and
 * virtio_irq must find it to acknowledge the interrupt. */
static void add_device(int transport, uint64_t base, int type, int irq) {
	if (nvdevs >= MAX_VDEVS) return;
	struct vdev *d = &vdevs[nvdevs];
	memset(d, 0, sizeof *d);
	d->transport = transport;
	d->base = base;
	d->type = type;
	d->irq = irq;
	barrier();
	nvdevs++;
	if (init_device(d) != 0) {
		reset(d);
		nvdevs--;
		return;
	}
	irq_unmask(irq);
}

/* mmio_param finds "virtio_mmio.device=<size>@<base>:<irq>" entries. */
static int mmio_params(const char *cmdline, uint64_t *bases, int *irqs, int max) {
	int n = 0;
	const char *key = "virtio_mmio.device=";
	for (const char *p = cmdline; p && (p = strstr_(p, key)) && n < max;) {
		p += strlen(key);
		uint64_t size, base, irq = 0;
		if (!parse_u64(&p, &size)) continue;
		if (*p == 'K' || *p == 'k') p++;
		if (*p++ != '@' || !parse_u64(&p, &base)) continue;
		if (*p == ':') p++, parse_u64(&p, &irq);
		bases[n] = base;
		irqs[n] = (int)irq;
		n++;
	}
	return n;
}

/* virtio_scan (re)discovers every device: PCI slots, then the virtio-mmio
 * windows from the lowest one the command line names. */
void virtio_scan(const char *cmdline) {
	for (int i = 0; i < nvdevs; i++) reset(&vdevs[i]);
	nvdevs = 0;
	for (int slot = 1; slot < 32; slot++) {
		int dev = slot << 3;
		uint32_t id = pci_cfg(dev, 0);
		if ((id & 0xffff) != 0x1af4) continue;
		uint32_t did = id >> 16;
		if (did < 0x1000 || did > 0x103f) continue;
		int type = (int)(pci_cfg(dev, 0x2c) >> 16);
		uint32_t io = pci_io_bar(dev);
		if (!io) continue;
		/* I/O decoding, and bus mastering for the queues' DMA (firmware
		 * enables it only on the devices it uses itself) */
		pci_cfg_write(dev, 0x04, (pci_cfg(dev, 0x04) & 0xffff) | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
		add_device(VT_PCI, io, type, pci_irq(dev));
	}
	uint64_t bases[32];
	int irqs[32];
	int n = mmio_params(cmdline, bases, irqs, 32);
	if (!n) return;
	uint64_t lo = bases[0];
	for (int i = 1; i < n; i++)
		if (bases[i] < lo) lo = bases[i];
	for (int w = 0; w < 16; w++) {
		uint64_t base = lo + 0x1000ul * w;
		if (mmio_read32(base) != 0x74726976 || mmio_read32(base + 4) != 2) break;
		int type = (int)mmio_read32(base + 8);
		if (!type) continue; /* placeholder: an empty slot */
		int irq = -1;
		for (int i = 0; i < n; i++)
			if (bases[i] == base) irq = irqs[i];
		add_device(VT_MMIO, base, type, irq);
	}
}

/* virtio_irq acknowledges the devices on irq and returns how many had
 * interrupted. */
int virtio_irq(int irq) {
	int claimed = 0;
	for (int i = 0; i < nvdevs; i++) {
		struct vdev *d = &vdevs[i];
		if (d->irq != irq) continue;
		if (ack_isr(d)) d->irqs++, claimed++;
	}
	return claimed;
}

struct vdev *find_dev(int type) {
	for (int i = 0; i < nvdevs; i++)
		if (vdevs[i].type == type) return &vdevs[i];
	return 0;
}

int disk_count(void) {
	int n = 0;
	for (int i = 0; i < nvdevs; i++) n += vdevs[i].type == VIRTIO_ID_BLOCK;
	return n;
}

struct vdev *disk(int i) {
	for (int k = 0; k < nvdevs; k++)
		if (vdevs[k].type == VIRTIO_ID_BLOCK && i-- == 0) return &vdevs[k];
	return 0;
}

/* ---- block ---- */

static int blk_request(struct vdev *d, uint32_t type, uint64_t sector, void *buf, uint32_t len, int to_dev) {
	struct vq *q = &d->q[0];
	*(volatile uint32_t *)d->hdr = type;
	*(volatile uint32_t *)(d->hdr + 4) = 0;
	*(volatile uint64_t *)(d->hdr + 8) = sector;
	*d->status = 0xff;
	if (len) {
		set_desc(q, 0, (uint64_t)d->hdr, 16, DESC_NEXT, 1);
		set_desc(q, 1, (uint64_t)buf, len, DESC_NEXT | (to_dev ? 0 : DESC_WRITE), 2);
		set_desc(q, 2, (uint64_t)d->status, 1, DESC_WRITE, 0);
	} else {
		set_desc(q, 0, (uint64_t)d->hdr, 16, DESC_NEXT, 2);
		set_desc(q, 2, (uint64_t)d->status, 1, DESC_WRITE, 0);
	}
	push_avail(q, 0);
	notify(d, 0);
	if (wait_used(q, 500, 0) < 0) return -1;
	return *d->status;
}

int blk_rw(struct vdev *d, int write, uint64_t sector, void *buf, uint32_t len) {
	return blk_request(d, write ? 1 : 0, sector, buf, len, write);
}

int blk_flush(struct vdev *d) {
	if (!(d->features & (1ul << BLK_F_FLUSH))) return 0;
	return blk_request(d, 4, 0, 0, 0, 0);
}

int blk_get_id(struct vdev *d, char *id) {
	memset(id, 0, 21);
	return blk_request(d, 8, 0, id, 20, 0);
}

/* blk_discard sends one DISCARD (zero = 0) or WRITE_ZEROES (zero = 1, unmap
 * allowed) segment; -2 when the device does not offer the request. */
int blk_discard(struct vdev *d, int zero, uint64_t sector, uint32_t count) {
	static volatile struct { uint64_t sector; uint32_t count, flags; } seg __attribute__((aligned(16)));
	if (!(d->features & (1ul << (zero ? BLK_F_WRITE_ZEROES : BLK_F_DISCARD)))) return -2;
	seg.sector = sector;
	seg.count = count;
	seg.flags = zero ? 1 : 0;
	return blk_request(d, zero ? 13 : 11, 0, (void *)&seg, sizeof seg, 1);
}

/* blk_submit_bad hands the device a corrupt chain: a head index beyond the
 * table, or two descriptors chained into a loop. */
int blk_submit_bad(struct vdev *d, int loop) {
	struct vq *q = &d->q[0];
	if (loop) {
		set_desc(q, 0, (uint64_t)d->hdr, 16, DESC_NEXT, 1);
		set_desc(q, 1, (uint64_t)d->status, 1, DESC_NEXT, 0);
		push_avail(q, 0);
	} else {
		push_avail(q, (uint16_t)(q->size + 3));
	}
	notify(d, 0);
	wait_ticks(2);
	return vdev_status(d);
}

/* ---- entropy ---- */

int rng_read(struct vdev *d, void *buf, uint32_t len) {
	struct vq *q = &d->q[0];
	set_desc(q, 0, (uint64_t)buf, len, DESC_WRITE, 0);
	push_avail(q, 0);
	notify(d, 0);
	uint32_t got = 0;
	if (wait_used(q, 500, &got) < 0) return -1;
	return (int)got;
}

/* ---- network ---- */

static uint32_t net_hdr_len(struct vdev *d) {
	return d->transport == VT_MMIO ? 12 : 10;
}

int net_send(struct vdev *d, const void *frame, uint32_t len) {
	struct vq *q = &d->q[1];
	uint32_t hl = net_hdr_len(d);
	memset((void *)d->hdr, 0, hl);
	set_desc(q, 0, (uint64_t)d->hdr, hl, DESC_NEXT, 1);
	set_desc(q, 1, (uint64_t)frame, len, 0, 0);
	push_avail(q, 0);
	notify(d, 1);
	return wait_used(q, 500, 0) < 0 ? -1 : 0;
}

int net_recv(struct vdev *d, void *frame, uint32_t max, uint64_t timeout) {
	struct vq *q = &d->q[0];
	uint32_t len = 0;
	int id = wait_used(q, timeout, &len);
	if (id < 0 || id >= NET_RXQ) return -1;
	uint32_t hl = net_hdr_len(d);
	int n = len > hl ? (int)(len - hl) : 0;
	if ((uint32_t)n > max) n = (int)max;
	memcpy(frame, d->rxbuf + id * NET_BUF + hl, (size_t)n);
	push_avail(q, (uint16_t)id); /* give the buffer back */
	notify(d, 0);
	return n;
}
