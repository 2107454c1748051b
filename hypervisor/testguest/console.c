/* COM1 console: polled transmit, interrupt-driven receive, kprintf. */
#include "guest.h"

#define COM1 0x3f8

static volatile char rxbuf[4096];
static volatile uint32_t rx_head, rx_tail;
static volatile int out_lock;

void serial_init(void) {
	outb(COM1 + 1, 0x00);  /* no interrupts while configuring */
	outb(COM1 + 3, 0x80);  /* DLAB */
	outb(COM1 + 0, 0x01);  /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);  /* 8N1 */
	outb(COM1 + 2, 0xc1);  /* FIFOs on; input typed before boot is kept */
	outb(COM1 + 4, 0x0b);  /* DTR, RTS, OUT2 (interrupts to the PIC) */
	outb(COM1 + 1, 0x01);  /* receive interrupts */
}

void putch(char c) {
	while (!(inb(COM1 + 5) & 0x20)) cpu_relax();
	outb(COM1, (uint8_t)c);
}

/* serial_irq drains the receive FIFO into the ring (IRQ 4). */
void serial_irq(void) {
	while (inb(COM1 + 5) & 0x01) {
		char c = (char)inb(COM1);
		if (rx_head - rx_tail < sizeof rxbuf) rxbuf[rx_head++ % sizeof rxbuf] = c;
	}
	(void)inb(COM1 + 2);
}

/* getline_pending reports whether received bytes wait to be read. */
int getline_pending(void) { return rx_tail != rx_head; }

/* getline_nonblock returns a complete line (without terminator) or -1. */
int getline_nonblock(char *buf, int max) {
	static char line[256];
	static int len;
	while (rx_tail != rx_head) {
		char c = rxbuf[rx_tail++ % sizeof rxbuf];
		if (c == '\r' || c == '\n') {
			if (len == 0) continue;
			int n = len < max - 1 ? len : max - 1;
			memcpy(buf, line, n);
			buf[n] = 0;
			len = 0;
			return n;
		}
		if (len < (int)sizeof line - 1) line[len++] = c;
	}
	return -1;
}

static void put_u64(uint64_t v, int base, int width, char pad) {
	char tmp[24];
	int n = 0;
	do {
		int d = (int)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n < width--) putch(pad);
	while (n) putch(tmp[--n]);
}

static void lock(void) {
	while (__atomic_exchange_n(&out_lock, 1, __ATOMIC_ACQUIRE)) cpu_relax();
}

static void unlock(void) { __atomic_store_n(&out_lock, 0, __ATOMIC_RELEASE); }

/* kprintf supports %s %c %d %u %x %p with 0-padding, width and l/ll. */
void kprintf(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	lock();
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			putch(*p);
			continue;
		}
		p++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*p == '0') pad = '0', p++;
		while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
		while (*p == 'l') lng++, p++;
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n = (int)strlen(s);
			while (n < width--) putch(' ');
			while (*s) putch(*s++);
			break;
		}
		case 'c': putch((char)va_arg(ap, int)); break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (v < 0) putch('-'), v = -v;
			put_u64((uint64_t)v, 10, width, pad);
			break;
		}
		case 'u': put_u64(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad); break;
		case 'x': put_u64(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad); break;
		case 'p': putch('0'), putch('x'), put_u64((uint64_t)va_arg(ap, void *), 16, 0, ' '); break;
		case '%': putch('%'); break;
		default: putch('%'), putch(*p);
		}
	}
	unlock();
	va_end(ap);
}
