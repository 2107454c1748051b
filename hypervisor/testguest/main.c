/*
 * hypercim test guest: a freestanding x86-64 program the VMM boots like a
 * kernel. Without "testguest.interactive" on its command line it reports
 * its processors and disks, leaves a mark on each disk and powers off; with
 * it, it answers commands on COM1 (see docs/hypervisor.md).
 */
#include "guest.h"

#define PIC1 0x20
#define PIC2 0xa0
#define PIT_HZ 100
#define DEBUG_EXIT 0xf4
#define PVPANIC 0x505

volatile uint64_t ticks;
volatile uint32_t irq_counts[16];
volatile uint64_t ap_ticks[MAX_CPUS];
volatile int cpus_online;
static volatile int shutdown_requested;
static int ncpus;
static const char *cmdline = "";
static uint64_t ram_bytes;
static uint64_t rsdp; /* ACPI root pointer from the boot protocol, 0 if none */
static int sci = -1;   /* the ACPI SCI's line, -1 without ACPI */
static int boot_proto;

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) idt_ptr;

struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern uint64_t isr_table[65];
extern uint64_t isr_spurious[1];

static void set_gate(int v, uint64_t handler) {
	idt[v].off_lo = (uint16_t)handler;
	idt[v].sel = 0x08;
	idt[v].ist = 0;
	idt[v].type = 0x8e;
	idt[v].off_mid = (uint16_t)(handler >> 16);
	idt[v].off_hi = (uint32_t)(handler >> 32);
	idt[v].zero = 0;
}

static void load_idt(void) {
	idt_ptr.limit = sizeof idt - 1;
	idt_ptr.base = (uint64_t)idt;
	__asm__ volatile("lidt %0" ::"m"(idt_ptr));
}

static void idt_init(void) {
	for (int v = 0; v < 65; v++) set_gate(v, isr_table[v]);
	set_gate(255, isr_spurious[0]);
	load_idt();
}

/* The 8259 lines unmasked: the PIT (0), the keyboard (1), the cascade (2)
 * and COM1 (4) from the start; device lines once a driver handles them
 * (irq_unmask), as a level-triggered line that a device left asserted, and
 * that nothing acknowledges, would interrupt the processor again after
 * every IRET and starve everything else. */
static uint16_t pic_mask = (uint16_t)~(1u << 0 | 1u << 1 | 1u << 2 | 1u << 4);
/* Lines masked because nothing acknowledged them (see isr_handler). */
static uint16_t stuck_lines;
static uint32_t unclaimed[16];
#define UNCLAIMED_LIMIT 10000

static void pic_write_mask(void) {
	outb(PIC1 + 1, (uint8_t)pic_mask);
	outb(PIC2 + 1, (uint8_t)(pic_mask >> 8));
}

static void pic_init(void) {
	outb(PIC1, 0x11);
	outb(PIC2, 0x11);
	outb(PIC1 + 1, 0x20); /* IRQ 0-7 -> vectors 32-39 */
	outb(PIC2 + 1, 0x28); /* IRQ 8-15 -> vectors 40-47 */
	outb(PIC1 + 1, 4);
	outb(PIC2 + 1, 2);
	outb(PIC1 + 1, 1);
	outb(PIC2 + 1, 1);
	pic_write_mask();
}

/* irq_set_masked changes one line's mask with interrupts held off, as the
 * interrupt handler changes the mask too. */
static void irq_set_masked(int irq, int masked) {
	uint64_t flags;
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
	if (masked) pic_mask |= (uint16_t)(1u << irq);
	else pic_mask &= (uint16_t) ~(1u << irq);
	pic_write_mask();
	if (flags & 0x200) sti();
}

void irq_unmask(int irq) {
	if (irq < 0 || irq >= 16) return;
	unclaimed[irq] = 0;
	stuck_lines &= (uint16_t) ~(1u << irq);
	irq_set_masked(irq, 0);
}

static void pit_init(void) {
	uint16_t div = (uint16_t)(1193182 / PIT_HZ);
	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, rate generator */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

/* power_off leaves through the debug-exit port, which carries the code.
 * Machines without one (QEMU as libvirt runs it) get the next best: a
 * failure is reported as a panic where there is a pvpanic device, and
 * success is an ACPI power-off. */
void power_off(int code) {
	outb(DEBUG_EXIT, (uint8_t)code);
	uint8_t events = inb(PVPANIC); /* 0xff: no such port */
	if (code && events != 0xff && (events & 1)) outb(PVPANIC, 1);
	else if (!code) acpi_power_off();
	for (;;) __asm__ volatile("cli; hlt");
}

void wait_ticks(uint64_t n) {
	uint64_t until = ticks + n;
	while (ticks < until) sti_hlt();
}

static int cpu_index(void) {
	return (int)(mmio_read32(0xfee00020) >> 24);
}

/* keyboard tracks Ctrl and Alt in scancode set 1 and turns Ctrl+Alt+Del
 * into a shutdown request (the VMM's graceful power-off). */
static void keyboard(void) {
	static int ctrl, alt, e0;
	while (inb(0x64) & 1) {
		uint8_t sc = inb(0x60);
		if (sc == 0xe0) { e0 = 1; continue; }
		switch (sc) {
		case 0x1d: ctrl = 1; break;
		case 0x9d: ctrl = 0; break;
		case 0x38: alt = 1; break;
		case 0xb8: alt = 0; break;
		case 0x53: if (e0 && ctrl && alt) shutdown_requested = 1; break;
		}
		e0 = 0;
	}
}

void isr_handler(struct frame *f) {
	uint64_t v = f->vector;
	if (v < 32) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		kprintf("testguest: exception %d error=%lx rip=%lx cr2=%lx\n", (int)v, f->error, f->rip, cr2);
		power_off(2);
	}
	if (v == 64) { /* LAPIC timer, application processors */
		int c = cpu_index();
		if (c < MAX_CPUS) ap_ticks[c]++;
		lapic_eoi();
		return;
	}
	if (v == 255) return; /* spurious */
	int irq = (int)v - 32;
	if (irq < 0 || irq >= 16) return;
	irq_counts[irq]++;
	switch (irq) {
	case 0: ticks++; break;
	case 1: keyboard(); break;
	case 4: serial_irq(); break;
	default:
		/* A line no device of ours claims this often is held by a device
		 * without a driver: mask it. The drivers poll, so devices sharing
		 * the line still work, only without their interrupts. */
		if (irq == sci && acpi_sci()) shutdown_requested = 1, unclaimed[irq] = 0;
		else if (virtio_irq(irq)) unclaimed[irq] = 0;
		else if (++unclaimed[irq] == UNCLAIMED_LIMIT) {
			stuck_lines |= (uint16_t)(1u << irq);
			pic_mask |= (uint16_t)(1u << irq);
			pic_write_mask();
		}
		break;
	}
	if (irq >= 8) outb(PIC2, 0x20);
	outb(PIC1, 0x20);
}

void ap_main(int index) {
	(void)index;
	load_idt();
	lapic_enable();
	lapic_timer_start();
	__atomic_add_fetch(&cpus_online, 1, __ATOMIC_SEQ_CST);
	for (;;) sti_hlt();
}

/* boot_info reads the command line and RAM size from whichever boot
 * protocol started us. */
static void boot_info(uint64_t info, int proto) {
	boot_proto = proto;
	if (proto == 1) { /* PVH hvm_start_info */
		uint64_t cl = *(uint64_t *)(info + 24);
		if (cl) cmdline = (const char *)cl;
		rsdp = *(uint64_t *)(info + 32);
		uint64_t mm = *(uint64_t *)(info + 40);
		uint32_t n = *(uint32_t *)(info + 48);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t *e = (uint64_t *)(mm + 24 * i);
			if (*(uint32_t *)(e + 2) == 1) ram_bytes += e[1];
		}
	} else { /* Linux boot_params */
		uint8_t *bp = (uint8_t *)info;
		uint64_t cl = *(uint32_t *)(bp + 0x228) | (uint64_t) * (uint32_t *)(bp + 0xc8) << 32;
		if (cl) cmdline = (const char *)cl;
		rsdp = *(uint64_t *)(bp + 0x70); /* acpi_rsdp_addr */
		uint8_t n = bp[0x1e8];
		for (int i = 0; i < n; i++) {
			uint8_t *e = bp + 0x2d0 + 20 * i;
			if (*(uint32_t *)(e + 16) == 1) ram_bytes += *(uint64_t *)(e + 8);
		}
	}
}

static uint8_t sector_buf[65536] __attribute__((aligned(4096)));

static void report_disks(void) {
	kprintf("testguest: cpus=%d disks=%d\n", ncpus, disk_count());
	for (int i = 0; i < disk_count(); i++) {
		struct vdev *d = disk(i);
		uint32_t crc = 0;
		if (blk_rw(d, 0, 0, sector_buf, SECTOR) == 0) crc = crc32(sector_buf, SECTOR, 0);
		kprintf("testguest: disk%d sectors=%lu crc0=%08x\n", i, d->sectors, crc);
	}
}

static int mark_disks(void) {
	static const char mark[] = "testguest was here";
	int bad = 0;
	for (int i = 0; i < disk_count(); i++) {
		struct vdev *d = disk(i);
		if (d->sectors < 2) continue;
		if (blk_rw(d, 0, 1, sector_buf, SECTOR) != 0) { bad++; continue; }
		memcpy(sector_buf, mark, sizeof mark - 1);
		if (blk_rw(d, 1, 1, sector_buf, SECTOR) != 0 || blk_flush(d) != 0) bad++;
	}
	return bad;
}

static void flush_all(void) {
	for (int i = 0; i < disk_count(); i++) blk_flush(disk(i));
}

static void graceful_shutdown(void) {
	kprintf("testguest: shutdown requested\n");
	flush_all();
	kprintf("testguest: powering off\n");
	power_off(0);
}

/* ---- commands ---- */

static struct vdev *arg_disk(const char **p) {
	uint64_t i;
	if (!parse_u64(p, &i) || (int)i >= disk_count()) return 0;
	return disk((int)i);
}

static void hex(const uint8_t *b, int n) {
	for (int i = 0; i < n; i++) kprintf("%02x", b[i]);
}

static void command(const char *line) {
	const char *p = skip_spaces(line);
	const char *arg = p;
	while (*arg && *arg != ' ') arg++;
	size_t cl = (size_t)(arg - p);
#define IS(s) (cl == sizeof(s) - 1 && !strncmp(p, s, cl))
	if (IS("help")) {
		kprintf("commands: help echo ticks cpus mem cmdline disks rescan id read write crc bench flush\n"
		        "          discard zeroes spin rng net irqs status baddesc descloop badport badmmio\n"
		        "          triplefault panic fail halt reboot poweroff\n");
	} else if (IS("echo")) {
		kprintf("%s\n", skip_spaces(arg));
	} else if (IS("ticks")) {
		kprintf("ticks=%lu hz=%d\n", ticks, PIT_HZ);
	} else if (IS("cpus")) {
		kprintf("cpus=%d online=%d", ncpus, cpus_online);
		for (int c = 1; c < ncpus && c < MAX_CPUS; c++) kprintf(" cpu%d=%lu", c, ap_ticks[c]);
		kprintf("\n");
	} else if (IS("mem")) {
		kprintf("ram=%lu boot=%s\n", ram_bytes, boot_proto == 1 ? "pvh" : "linux64");
	} else if (IS("cmdline")) {
		kprintf("cmdline=%s\n", cmdline);
	} else if (IS("disks")) {
		kprintf("disks=%d\n", disk_count());
		for (int i = 0; i < disk_count(); i++) {
			struct vdev *d = disk(i);
			kprintf("disk%d sectors=%lu transport=%s\n", i, d->sectors, d->transport == VT_PCI ? "pci" : "mmio");
		}
	} else if (IS("rescan")) {
		virtio_scan(cmdline);
		kprintf("disks=%d devices=%d\n", disk_count(), nvdevs);
	} else if (IS("id")) {
		struct vdev *d = arg_disk(&arg);
		char id[21];
		if (!d || blk_get_id(d, id) != 0) { kprintf("err bad disk\n"); return; }
		kprintf("id=%s\n", id);
	} else if (IS("read") || IS("crc")) {
		int is_crc = IS("crc");
		struct vdev *d = arg_disk(&arg);
		uint64_t s, n = 1;
		if (!d || !parse_u64(&arg, &s)) { kprintf("err usage: %s DISK SECTOR%s\n", is_crc ? "crc" : "read", is_crc ? " [COUNT]" : ""); return; }
		if (is_crc) parse_u64(&arg, &n);
		uint32_t crc = 0;
		for (uint64_t k = 0; k < n; k++) {
			int st = blk_rw(d, 0, s + k, sector_buf, SECTOR);
			if (st != 0) { kprintf("err io status=%d\n", st); return; }
			crc = crc32(sector_buf, SECTOR, crc);
		}
		kprintf("crc=%08x", crc);
		if (!is_crc) kprintf(" data="), hex(sector_buf, 32);
		kprintf("\n");
	} else if (IS("write")) {
		struct vdev *d = arg_disk(&arg);
		uint64_t s;
		if (!d || !parse_u64(&arg, &s)) { kprintf("err usage: write DISK SECTOR TEXT\n"); return; }
		const char *text = skip_spaces(arg);
		memset(sector_buf, 0, SECTOR);
		memcpy(sector_buf, text, strlen(text) < SECTOR ? strlen(text) : SECTOR);
		int st = blk_rw(d, 1, s, sector_buf, SECTOR);
		if (st == 0) st = blk_flush(d);
		if (st != 0) { kprintf("err io status=%d\n", st); return; }
	} else if (IS("flush")) {
		flush_all();
	} else if (IS("discard") || IS("zeroes")) {
		/* discard|zeroes DISK SECTOR COUNT: one DISCARD or WRITE_ZEROES
		 * request, then a flush */
		int zero = IS("zeroes");
		struct vdev *d = arg_disk(&arg);
		uint64_t s, n;
		if (!d || !parse_u64(&arg, &s) || !parse_u64(&arg, &n) || n == 0 || n > 0xffffffffu) {
			kprintf("err usage: %s DISK SECTOR COUNT\n", zero ? "zeroes" : "discard");
			return;
		}
		int st = blk_discard(d, zero, s, (uint32_t)n);
		if (st == -2) { kprintf("err the disk does not offer %s\n", zero ? "write-zeroes" : "discard"); return; }
		if (st == 0) st = blk_flush(d);
		if (st != 0) { kprintf("err io status=%d\n", st); return; }
	} else if (IS("bench")) {
		/* bench DISK MIB [KIB]: sequential writes of KIB-sized requests
		 * (default 1024) from sector 2048, then a flush */
		static uint8_t bench_buf[1 << 20] __attribute__((aligned(4096)));
		static int bench_filled;
		struct vdev *d = arg_disk(&arg);
		uint64_t mib, kib = 1024;
		if (!d || !parse_u64(&arg, &mib)) { kprintf("err usage: bench DISK MIB [KIB]\n"); return; }
		parse_u64(&arg, &kib);
		if (kib < 1 || kib > 1024 || 1024 % kib) { kprintf("err KIB must divide 1024\n"); return; }
		if (!bench_filled) memset(bench_buf, 0x5a, sizeof bench_buf), bench_filled = 1;
		uint64_t chunks = mib * 1024 / kib, sectors = kib * 2, t0 = ticks;
		if (2048 + chunks * sectors > d->sectors) { kprintf("err disk too small\n"); return; }
		for (uint64_t c = 0; c < chunks; c++)
			if (blk_rw(d, 1, 2048 + c * sectors, bench_buf, (uint32_t)(kib * 1024)) != 0) { kprintf("err io\n"); return; }
		blk_flush(d);
		kprintf("bench bytes=%lu ticks=%lu\n", mib << 20, ticks - t0);
	} else if (IS("spin")) {
		/* spin N: N iterations of a loop that never leaves the processor
		 * (no I/O, no halt), for measuring the CPU the vCPU gets */
		uint64_t n;
		if (!parse_u64(&arg, &n)) { kprintf("err usage: spin N\n"); return; }
		uint64_t acc = 0;
		for (uint64_t k = 0; k < n; k++) {
			acc = acc * 6364136223846793005ul + k;
			__asm__ volatile("" : "+r"(acc));
		}
		kprintf("spin=%lu acc=%lx\n", n, acc);
	} else if (IS("rng")) {
		uint64_t n = 16;
		parse_u64(&arg, &n);
		if (n > 256) n = 256;
		struct vdev *d = find_dev(4);
		int got = d ? rng_read(d, sector_buf, (uint32_t)n) : -1;
		if (got < 0) { kprintf("err no entropy device\n"); return; }
		kprintf("rng="), hex(sector_buf, got), kprintf("\n");
	} else if (IS("net")) {
		/* net send TEXT | net recv | net mac */
		struct vdev *d = find_dev(1);
		const char *sub = skip_spaces(arg);
		if (!d) { kprintf("err no network adapter\n"); return; }
		if (!strncmp(sub, "mac", 3)) {
			kprintf("mac=%02x:%02x:%02x:%02x:%02x:%02x\n", d->mac[0], d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5]);
		} else if (!strncmp(sub, "send", 4)) {
			const char *text = skip_spaces(sub + 4);
			uint8_t *fr = sector_buf;
			memset(fr, 0xff, 6);
			memcpy(fr + 6, d->mac, 6);
			fr[12] = 0x88, fr[13] = 0xb5; /* local experimental EtherType */
			size_t n = strlen(text);
			if (n > 1400) n = 1400;
			memcpy(fr + 14, text, n);
			size_t len = 14 + n < 60 ? 60 : 14 + n;
			if (14 + n < 60) memset(fr + 14 + n, 0, 60 - 14 - n);
			if (net_send(d, fr, (uint32_t)len) != 0) { kprintf("err send\n"); return; }
			kprintf("sent=%lu\n", (uint64_t)len);
		} else if (!strncmp(sub, "recv", 4)) {
			/* net recv [ETHERTYPE]: the next frame of that type (default
			 * 0x88b5), skipping others the host's stack sends */
			const char *q = sub + 4;
			uint64_t type = 0x88b5, deadline = ticks + 5 * PIT_HZ;
			parse_u64(&q, &type);
			for (;;) {
				int n = net_recv(d, sector_buf, 2048, deadline > ticks ? deadline - ticks : 0);
				if (n < 0) { kprintf("err timeout\n"); return; }
				if (n >= 14 && ((uint64_t)sector_buf[12] << 8 | sector_buf[13]) == type) {
					kprintf("recv=%d crc=%08x\n", n, crc32(sector_buf, (size_t)n, 0));
					break;
				}
			}
		} else {
			kprintf("err usage: net mac|send TEXT|recv [ETHERTYPE]\n");
			return;
		}
	} else if (IS("irqs")) {
		for (int i = 0; i < 16; i++) kprintf("irq%d=%u ", i, irq_counts[i]);
		for (int i = 0; i < nvdevs; i++) kprintf("dev%d=%u ", i, vdevs[i].irqs);
		kprintf("stuck=%04x\n", stuck_lines);
	} else if (IS("status")) {
		struct vdev *d = arg_disk(&arg);
		if (!d) { kprintf("err bad disk\n"); return; }
		kprintf("status=%02x\n", vdev_status(d));
	} else if (IS("baddesc") || IS("descloop")) {
		struct vdev *d = arg_disk(&arg);
		if (!d) { kprintf("err bad disk\n"); return; }
		kprintf("status=%02x\n", blk_submit_bad(d, IS("descloop")));
	} else if (IS("badport")) {
		kprintf("value=%02x\n", inb(0x1234));
	} else if (IS("badmmio")) {
		kprintf("value=%08x\n", mmio_read32(0xe0001000));
	} else if (IS("triplefault")) {
		kprintf("ok\n");
		static struct { uint16_t limit; uint64_t base; } __attribute__((packed)) none;
		__asm__ volatile("lidt %0; ud2" ::"m"(none));
	} else if (IS("panic")) {
		kprintf("ok\n");
		outb(PVPANIC, 1);
		return;
	} else if (IS("fail")) {
		uint64_t code = 1;
		parse_u64(&arg, &code);
		kprintf("ok\n");
		power_off((int)code);
	} else if (IS("halt")) {
		kprintf("ok\n");
		for (;;) __asm__ volatile("cli; hlt");
	} else if (IS("reboot")) {
		kprintf("ok\n");
		outb(0x64, 0xfe);
		for (;;) __asm__ volatile("cli; hlt");
	} else if (IS("poweroff")) {
		kprintf("ok\n");
		flush_all();
		power_off(0);
	} else {
		kprintf("err unknown command (try help)\n");
		return;
	}
	kprintf("ok\n");
#undef IS
}

void kmain(uint64_t info, int proto) {
	serial_init();
	kprintf("testguest: hello\n");
	idt_init();
	boot_info(info, proto);
	pic_init();
	pit_init();
	lapic_enable();
	sti();
	sci = acpi_init(rsdp);
	irq_unmask(sci);
	ncpus = cpu_count();
	if (ncpus > MAX_CPUS) ncpus = MAX_CPUS;
	ncpus = start_aps(ncpus);
	virtio_scan(cmdline);
	if (!strstr_(cmdline, "testguest.interactive")) {
		report_disks();
		int bad = mark_disks();
		if (bad) {
			kprintf("testguest: %d disk write(s) failed\n", bad);
			power_off(1);
		}
		kprintf("testguest: done\n");
		power_off(0);
	}
	kprintf("testguest: cpus=%d disks=%d\n", ncpus, disk_count());
	kprintf("testguest: ready\n");
	char line[256];
	for (;;) {
		if (shutdown_requested) graceful_shutdown();
		if (getline_nonblock(line, sizeof line) >= 0) {
			command(line);
			continue;
		}
		/* Input that arrived before the PIC was programmed raised its
		 * edge too early: drain the UART by polling before sleeping. */
		cli();
		serial_irq();
		if (getline_pending()) { sti(); continue; }
		sti_hlt();
	}
}
