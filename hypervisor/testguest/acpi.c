/* ACPI, where the firmware provides it (QEMU; hypercim's VMM has none):
 * finding tables, powering off through the PM1a control block (S5) where
 * there is no debug-exit port, and the power button as a graceful
 * shutdown request. */
#include "guest.h"

#define PM1_PWRBTN   0x0100 /* PM1 status and enable: power button */
#define PM1_SCI_EN   0x0001 /* PM1 control: SCI_EN */
#define PM1_SLP_EN   0x2000 /* PM1 control: SLP_EN */

static const uint8_t *rsdp;
static struct {
	uint16_t evt, cnt;  /* PM1a event and control blocks (I/O ports) */
	uint8_t evt_len;
	int sci;            /* 8259 line of the SCI, -1 without ACPI */
	uint16_t slp_typ;   /* SLP_TYPa of S5, from the DSDT's \_S5 */
} pm = {.sci = -1};

static int checksum_ok(const uint8_t *p, uint32_t n) {
	uint8_t sum = 0;
	for (uint32_t i = 0; i < n; i++) sum += p[i];
	return sum == 0;
}

static int table_ok(const uint8_t *t, const char *sig) {
	return t && !memcmp(t, sig, 4) && *(const uint32_t *)(t + 4) >= 36 && checksum_ok(t, *(const uint32_t *)(t + 4));
}

/* acpi_table finds a table by signature through the RSDT or XSDT. */
const uint8_t *acpi_table(const char *sig) {
	if (!rsdp) return 0;
	int wide = rsdp[15] >= 2 && *(const uint64_t *)(rsdp + 24);
	const uint8_t *root = wide ? (const uint8_t *)*(const uint64_t *)(rsdp + 24)
	                           : (const uint8_t *)(uint64_t) * (const uint32_t *)(rsdp + 16);
	if (!table_ok(root, wide ? "XSDT" : "RSDT")) return 0;
	uint32_t len = *(const uint32_t *)(root + 4), step = wide ? 8 : 4;
	for (uint32_t off = 36; off + step <= len; off += step) {
		const uint8_t *t = wide ? (const uint8_t *)*(const uint64_t *)(root + off)
		                        : (const uint8_t *)(uint64_t) * (const uint32_t *)(root + off);
		if (table_ok(t, sig)) return t;
	}
	return 0;
}

/* s5_type reads SLP_TYPa from the DSDT's "Name (_S5, Package () {a, ...})":
 * NameOp, the name, PackageOp, a one-byte PkgLength, NumElements, then a
 * Zero, One or BytePrefix constant. QEMU's is 0. */
static int s5_type(const uint8_t *dsdt) {
	uint32_t len = *(const uint32_t *)(dsdt + 4);
	for (uint32_t i = 36; i + 9 <= len; i++) {
		if (memcmp(dsdt + i, "_S5_", 4) || dsdt[i + 4] != 0x12 || (dsdt[i + 5] & 0xc0)) continue;
		const uint8_t *e = dsdt + i + 7;
		if (e[0] == 0x0a) return e[1];
		if (e[0] == 0x00 || e[0] == 0x01) return e[0];
	}
	return -1;
}

/* acpi_init takes the root pointer the boot protocol gave (0: none) and,
 * when the tables describe a PM1 block, enters ACPI mode and enables the
 * power button event. It returns the SCI's line, -1 without ACPI. */
int acpi_init(uint64_t root) {
	const uint8_t *p = (const uint8_t *)root;
	if (!p || memcmp(p, "RSD PTR ", 8) || !checksum_ok(p, 20)) return -1;
	rsdp = p;
	const uint8_t *fadt = acpi_table("FACP");
	if (!fadt || *(const uint32_t *)(fadt + 4) < 116) return -1;
	const uint8_t *dsdt = (const uint8_t *)(uint64_t) * (const uint32_t *)(fadt + 40);
	int typ = table_ok(dsdt, "DSDT") ? s5_type(dsdt) : -1;
	uint32_t evt = *(const uint32_t *)(fadt + 56), cnt = *(const uint32_t *)(fadt + 64);
	uint16_t sci = *(const uint16_t *)(fadt + 46);
	if (typ < 0 || !evt || !cnt || evt > 0xffff || cnt > 0xffff || sci >= 16) return -1;
	pm.evt = (uint16_t)evt, pm.cnt = (uint16_t)cnt, pm.evt_len = fadt[88];
	pm.slp_typ = (uint16_t)(typ & 7);
	uint32_t smi = *(const uint32_t *)(fadt + 48);
	uint8_t enable = fadt[52];
	if (!(inw(pm.cnt) & PM1_SCI_EN) && smi && enable) {
		outb((uint16_t)smi, enable);
		for (int i = 0; i < 100000 && !(inw(pm.cnt) & PM1_SCI_EN); i++) cpu_relax();
	}
	outw(pm.evt, PM1_PWRBTN); /* a press before we listened does not count */
	outw((uint16_t)(pm.evt + pm.evt_len / 2), PM1_PWRBTN);
	pm.sci = sci;
	return sci;
}

/* acpi_sci handles an interrupt on the SCI's line: it returns 1 and
 * acknowledges the event when the power button was pressed. */
int acpi_sci(void) {
	if (pm.sci < 0 || !(inw(pm.evt) & PM1_PWRBTN)) return 0;
	outw(pm.evt, PM1_PWRBTN);
	return 1;
}

/* acpi_power_off enters S5; it returns only without ACPI. */
void acpi_power_off(void) {
	if (pm.sci < 0) return;
	outw(pm.cnt, (uint16_t)(pm.slp_typ << 10 | PM1_SLP_EN));
}
