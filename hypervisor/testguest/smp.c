/* Processors: count them from the ACPI MADT (or, without ACPI tables, the
 * MP table), start them with INIT-SIPI-SIPI and give each application
 * processor a LAPIC timer that ticks. */
#include "guest.h"

#define LAPIC        0xfee00000ul
#define LAPIC_ID     0x020
#define LAPIC_EOI    0x0b0
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_TIMER  0x320
#define LAPIC_TICR   0x380
#define LAPIC_TDCR   0x3e0
#define TRAMPOLINE   0x1000
#define TIMER_VECTOR 64

extern char ap_trampoline[], ap_trampoline_end[];

static uint32_t lapic_read(uint32_t r) { return mmio_read32(LAPIC + r); }
static void lapic_write(uint32_t r, uint32_t v) { mmio_write32(LAPIC + r, v); }

/* find_mp scans a range for the MP floating pointer "_MP_". */
static const uint8_t *find_mp(uint64_t from, uint64_t len) {
	for (uint64_t a = from; a + 16 <= from + len; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (!memcmp(p, "_MP_", 4)) {
			uint8_t sum = 0;
			for (int i = 0; i < 16; i++) sum += p[i];
			if (sum == 0) return p;
		}
	}
	return 0;
}

/* madt_cpus counts the enabled processors (local APIC and x2APIC entries)
 * of the ACPI MADT; 0 without one. */
static int madt_cpus(void) {
	const uint8_t *t = acpi_table("APIC");
	if (!t) return 0;
	uint32_t len = *(const uint32_t *)(t + 4);
	int cpus = 0;
	for (uint32_t e = 44; e + 2 <= len && t[e + 1] >= 2; e += t[e + 1]) {
		if (t[e] == 0 && t[e + 1] >= 8 && (*(const uint32_t *)(t + e + 4) & 1)) cpus++;
		if (t[e] == 9 && t[e + 1] >= 16 && (*(const uint32_t *)(t + e + 8) & 1)) cpus++;
	}
	return cpus;
}

/* cpu_count counts the processors the firmware describes: those enabled in
 * the ACPI MADT when there are ACPI tables (QEMU), else those of the MP
 * table (hypercim's VMM has no ACPI tables). The MADT is QEMU's own
 * account, while SeaBIOS lists in its MP table only the processors that
 * answered its start-up IPIs in time, which under software emulation is
 * not always all of them. */
int cpu_count(void) {
	int n = madt_cpus();
	return n ? n : mp_cpu_count();
}

/* mp_cpu_count counts enabled processor entries of the MP configuration
 * table, searched where the MP specification says firmware puts it. */
int mp_cpu_count(void) {
	const uint8_t *fp = find_mp(0x9fc00, 0x400);
	if (!fp) fp = find_mp(0xf0000, 0x10000);
	if (!fp) return 1;
	const uint8_t *t = (const uint8_t *)(uint64_t)*(const uint32_t *)(fp + 4);
	if (!t || memcmp(t, "PCMP", 4)) return 1;
	uint16_t count = *(const uint16_t *)(t + 34);
	const uint8_t *e = t + 44;
	int cpus = 0;
	for (int i = 0; i < count; i++) {
		if (e[0] == 0) {
			if (e[3] & 1) cpus++;
			e += 20;
		} else {
			e += 8;
		}
	}
	return cpus ? cpus : 1;
}

void lapic_enable(void) { lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100 | 0xff); }

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

/* lapic_timer_start runs the local timer periodically on TIMER_VECTOR. */
void lapic_timer_start(void) {
	lapic_write(LAPIC_TDCR, 0x3);              /* divide by 16 */
	lapic_write(LAPIC_TIMER, 0x20000 | TIMER_VECTOR); /* periodic */
	lapic_write(LAPIC_TICR, 1000000);
}

static void icr(uint32_t lo) {
	lapic_write(LAPIC_ICR_HI, 0);
	lapic_write(LAPIC_ICR_LO, lo);
	while (lapic_read(LAPIC_ICR_LO) & 0x1000) cpu_relax();
}

/* start_aps wakes every other processor and waits (at most 10 s) until the
 * expected number have checked in. Returns the processors online. */
int start_aps(int expected) {
	cpus_online = 1;
	if (expected <= 1) return 1;
	memcpy((void *)TRAMPOLINE, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
	barrier();
	icr(0x000c4500);              /* INIT, all excluding self */
	wait_ticks(1);                /* 10 ms */
	icr(0x000c4600 | (TRAMPOLINE >> 12)); /* STARTUP */
	wait_ticks(1);
	if (cpus_online < expected) icr(0x000c4600 | (TRAMPOLINE >> 12));
	/* Sleep between checks: a spinning processor would take host CPU
	 * time from the ones starting up. */
	uint64_t deadline = ticks + 10 * 100;
	while (cpus_online < expected && ticks < deadline) sti_hlt();
	return cpus_online;
}
