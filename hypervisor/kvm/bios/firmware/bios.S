/*
 * hypercim BIOS: the paravirtual PC firmware of hypercim's VMM.
 *
 * It runs in real mode from the top of the first MiB. POST fills the
 * interrupt vector table, starts the 18.2 Hz timer and calls int 19h,
 * which loads sector 0 of hard disk 0x80 at 0000:7C00 and jumps to it
 * with DL=80h, as every PC BIOS does.
 *
 * Services that need the machine's configuration (disks, memory map,
 * console, clock) go through the gate: the handler saves every register
 * on the caller's stack and writes the stack's address to GATE_PORT; the
 * VMM (package hypervisor/kvm/bios) reads that frame from guest memory,
 * performs the call and writes the results, flags included, back into
 * the frame, which the handler then restores. No register of the vCPU is
 * touched from outside, so the gate works the same on every KVM flavour.
 *
 * Gate frame, from SS:SP upwards (the VMM's frame layout must match):
 *   +0  magic 0x4843 ("HC")   +2  EDI  +6  ESI  +10 EBP  +14 ESP
 *   +18 EBX  +22 EDX  +26 ECX  +30 EAX  +34 ES  +36 DS  +38 vector
 *   +40 IP   +42 CS   +44 FLAGS (the caller's, as int pushed them)
 */

#define GATE_PORT   0x5f0   /* 32-bit write: SS<<16 | SP of a gate frame */
#define HALT_PORT   0x5f4   /* 8-bit write: boot failed, the byte says why */
#define GATE_MAGIC  0x4843

#define FAIL_READ   1       /* sector 0 of disk 0x80 could not be read */
#define FAIL_SIG    2       /* sector 0 lacks the 0x55AA signature */
#define FAIL_INT18  3       /* the boot sector called int 18h */

#define BDA_TICKS     0x46c
#define BDA_MIDNIGHT  0x470
#define TICKS_PER_DAY 0x1800b0

	.code16
	.text

/* Identification the VMM checks before loading the image. */
	.ascii "HCBIOS"
	.byte 1, 0              /* gate protocol version, reserved */

/* One entry per serviced vector: push the vector, enter the gate. */
#define GATE_ENTRY(v) gate_##v: pushw $0x##v; jmp gate
GATE_ENTRY(10)
GATE_ENTRY(13)
GATE_ENTRY(15)
GATE_ENTRY(16)
GATE_ENTRY(1a)

gate:
	pushw %ds
	pushw %es
	pushal
	pushw $GATE_MAGIC
	movw %ss, %ax
	shll $16, %eax
	movw %sp, %ax
	movw $GATE_PORT, %dx
	outl %eax, %dx
	addw $2, %sp            /* magic */
	popal
	popw %es
	popw %ds
	addw $2, %sp            /* vector */
	iret

/* int 16h: AH=00h/10h wait for a key; the VMM only polls, so waiting is
   here: ask with AH=01h/11h and halt until the next interrupt. */
int16:
	testb $0xef, %ah
	jnz gate_16
	pushw %ax
1:	popw %ax
	pushw %ax
	orb $1, %ah
	int $0x16
	jnz 2f
	sti
	hlt
	jmp 1b
2:	popw %ax
	jmp gate_16

/* int 11h: equipment list, int 12h: base memory size, both from the BDA
   the VMM filled. */
int11:
	pushw %ds
	xorw %ax, %ax
	movw %ax, %ds
	movw 0x410, %ax
	popw %ds
	iret

int12:
	pushw %ds
	xorw %ax, %ax
	movw %ax, %ds
	movw 0x413, %ax
	popw %ds
	iret

/* IRQ0: the BIOS tick count (18.2 Hz) with its midnight rollover, then
   the user timer hook int 1Ch. */
int08:
	pushw %ds
	pushl %eax
	xorw %ax, %ax
	movw %ax, %ds
	incl BDA_TICKS
	cmpl $TICKS_PER_DAY, BDA_TICKS
	jb 1f
	movl $0, BDA_TICKS
	incb BDA_MIDNIGHT
1:	int $0x1c
	movb $0x20, %al
	outb %al, $0x20
	popl %eax
	popw %ds
	iret

/* Other hardware interrupts: acknowledge at the PIC(s) and return. */
irq_master:
	pushw %ax
	movb $0x20, %al
	outb %al, $0x20
	popw %ax
	iret

irq_slave:
	pushw %ax
	movb $0x20, %al
	outb %al, $0xa0
	outb %al, $0x20
	popw %ax
	iret

default_iret:
	iret

/* puts: print the NUL-terminated string at CS:SI through int 10h. */
puts:
	pushw %ax
	pushw %bx
1:	movb %cs:(%si), %al
	incw %si
	testb %al, %al
	jz 2f
	movb $0x0e, %ah
	xorw %bx, %bx
	int $0x10
	jmp 1b
2:	popw %bx
	popw %ax
	ret

/* Boot failure: print why, tell the VMM (which ends the run with a
   clear event) and halt should it not. */
fail:
	call puts
	movw $HALT_PORT, %dx
	outb %al, %dx
	cli
1:	hlt
	jmp 1b

/* int 18h: the boot sector gave up. */
int18:
	movw $msg_int18, %si
	movb $FAIL_INT18, %al
	jmp fail

/* int 19h: bootstrap loader. */
int19:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7c00, %sp
	sti
	movw $msg_boot, %si
	call puts
	movw $3, %di            /* tries, as a BIOS resets and retries */
1:	movw $0x0201, %ax
	movw $0x0001, %cx
	movw $0x0080, %dx
	movw $0x7c00, %bx
	int $0x13
	jnc 2f
	xorb %ah, %ah
	int $0x13
	decw %di
	jnz 1b
	movw $msg_read, %si
	movb $FAIL_READ, %al
	jmp fail
2:	cmpw $0xaa55, 0x7dfe
	je 3f
	movw $msg_sig, %si
	movb $FAIL_SIG, %al
	jmp fail
3:	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	movl $0x80, %edx
	ljmp $0, $0x7c00

#define SETVEC(v, handler) movw $handler, (v * 4)

post:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ss
	movw $0x7c00, %sp
	movw %ax, %ds
	movw %ax, %es
	/* every vector: a bare iret; hardware ones acknowledge the PIC */
	xorw %di, %di
	movw $256, %cx
1:	movw $default_iret, %ax
	stosw
	movw $0xf000, %ax
	stosw
	loop 1b
	movw $0x08*4, %di
	movw $8, %cx
2:	movw $irq_master, %ax
	stosw
	addw $2, %di
	loop 2b
	movw $0x70*4, %di
	movw $8, %cx
3:	movw $irq_slave, %ax
	stosw
	addw $2, %di
	loop 3b
	SETVEC(0x08, int08)
	SETVEC(0x10, gate_10)
	SETVEC(0x11, int11)
	SETVEC(0x12, int12)
	SETVEC(0x13, gate_13)
	SETVEC(0x15, gate_15)
	SETVEC(0x16, int16)
	SETVEC(0x18, int18)
	SETVEC(0x19, int19)
	SETVEC(0x1a, gate_1a)
	/* 8259 PICs: master at vectors 08h, slave at 70h, as PC BIOSes */
	movb $0x11, %al
	outb %al, $0x20
	outb %al, $0xa0
	movb $0x08, %al
	outb %al, $0x21
	movb $0x70, %al
	outb %al, $0xa1
	movb $0x04, %al
	outb %al, $0x21
	movb $0x02, %al
	outb %al, $0xa1
	movb $0x01, %al
	outb %al, $0x21
	outb %al, $0xa1
	movb $0xfa, %al         /* IRQ0 (timer) and IRQ2 (cascade) */
	outb %al, $0x21
	movb $0xff, %al
	outb %al, $0xa1
	/* PIT channel 0: rate generator, divisor 65536 (18.2 Hz) */
	movb $0x34, %al
	outb %al, $0x43
	xorb %al, %al
	outb %al, $0x40
	outb %al, $0x40
	int $0x19

msg_boot:  .asciz "hypercim BIOS: booting from hard disk 0x80\r\n"
msg_read:  .asciz "hypercim BIOS: cannot read sector 0 of hard disk 0x80; no bootable disk\r\n"
msg_sig:   .asciz "hypercim BIOS: hard disk 0x80 is not bootable (sector 0 lacks the 0x55AA signature)\r\n"
msg_int18: .asciz "hypercim BIOS: the boot loader gave up (int 18h); no bootable disk\r\n"

	.section .reset, "ax"
	ljmp $0xf000, $post
	.ascii "HC-BIOS"
	.byte 0, 0, 0, 0
