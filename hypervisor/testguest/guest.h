/* hypercim test guest: shared declarations. Freestanding, no libc. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CPUS   65
#define MAX_VDEVS  40
#define SECTOR     512

/* Port and MMIO access. */
static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void barrier(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
const char *strstr_(const char *h, const char *n);
uint32_t crc32(const void *p, size_t n, uint32_t crc);
void *alloc(size_t size, size_t align);
int parse_u64(const char **s, uint64_t *out);
const char *skip_spaces(const char *s);

/* console.c */
void serial_init(void);
void putch(char c);
void kprintf(const char *fmt, ...);
int getline_nonblock(char *buf, int max);
int getline_pending(void);
void serial_irq(void);

/* main.c */
extern volatile uint64_t ticks;
extern volatile uint32_t irq_counts[16];
extern volatile uint64_t ap_ticks[MAX_CPUS];
extern volatile int cpus_online;
void power_off(int code);
void wait_ticks(uint64_t n);
void irq_unmask(int irq);

/* acpi.c */
const uint8_t *acpi_table(const char *sig);
int acpi_init(uint64_t rsdp);
int acpi_sci(void);
void acpi_power_off(void);

/* smp.c */
int cpu_count(void);
int mp_cpu_count(void);
void lapic_enable(void);
void lapic_eoi(void);
void lapic_timer_start(void);
int start_aps(int expected);

/* virtio.c */
enum { VT_PCI = 1, VT_MMIO = 2 };
struct vq {
	uint16_t size, last_used, notify;
	volatile uint8_t *desc;     /* struct virtq_desc[size] */
	volatile uint16_t *avail;   /* flags, idx, ring[size] */
	volatile uint8_t *used;     /* flags, idx, {id,len}[size] */
};
struct vdev {
	int transport, type, irq, ok;
	uint64_t base;
	uint64_t features;
	struct vq q[2];
	int nq;
	uint64_t sectors;           /* block */
	uint8_t mac[6];             /* net */
	uint32_t irqs;              /* interrupts taken */
	volatile uint8_t *status;   /* per-request status byte (block) */
	volatile uint8_t *hdr;      /* per-request header (block, net) */
	uint8_t *rxbuf;             /* net receive buffers */
};
extern struct vdev vdevs[MAX_VDEVS];
extern int nvdevs;
void virtio_scan(const char *cmdline);
int virtio_irq(int irq);
struct vdev *disk(int i);
int disk_count(void);
int blk_rw(struct vdev *d, int write, uint64_t sector, void *buf, uint32_t len);
int blk_flush(struct vdev *d);
int blk_discard(struct vdev *d, int zero, uint64_t sector, uint32_t count);
int blk_get_id(struct vdev *d, char *id);
struct vdev *find_dev(int type);
int rng_read(struct vdev *d, void *buf, uint32_t len);
int net_send(struct vdev *d, const void *frame, uint32_t len);
int net_recv(struct vdev *d, void *frame, uint32_t max, uint64_t timeout_ticks);
uint8_t vdev_status(struct vdev *d);
int blk_submit_bad(struct vdev *d, int loop);

#endif
