/*
 * boottest: a two-stage boot loader that exercises a PC BIOS the way boot
 * loaders do, for the firmware tests of both hypervisor backends.
 *
 * Disk layout (the tests build it): LBA 0 this boot sector, LBA 1-7 stage
 * 2, LBA 16-47 data whose 32-bit sum the loader prints, LBA 60 and 61 the
 * sectors it writes (extended and CHS writes). Every result is one line
 * on int 10h, which both BIOSes send to COM1. It powers off through APM,
 * then the debug-exit port, then ACPI PM1a (QEMU with SeaBIOS).
 */

#define STAGE2_SECTORS 7
#define DATA_LBA       16
#define DATA_SECTORS   32
#define EXT_WRITE_LBA  60
#define CHS_WRITE_LBA  61
#define DATA_SEG       0x1000   /* LBA read buffer */
#define CHS_SEG        0x2000   /* CHS read buffer */
#define WRITE_SEG      0x3000   /* write buffer */
#define E820_BUF       0x0600

	.code16
	.text
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7c00, %sp
	ljmp $0, $1f
1:	sti
	movb %dl, drive
	movw $msg_hello, %si
	call puts_tty
	/* stage 2: LBA 1.., CHS 0/0/2.. of the boot drive */
	movw $0x0200 + STAGE2_SECTORS, %ax
	movw $0x0002, %cx
	xorb %dh, %dh
	movb drive, %dl
	movw $stage2, %bx
	int $0x13
	jc 2f
	jmp stage2
2:	movw $msg_s2fail, %si
	call puts_tty
	int $0x18

/* puts_tty: the string at DS:SI through int 10h AH=0Eh. */
puts_tty:
	pusha
1:	lodsb
	testb %al, %al
	jz 2f
	movb $0x0e, %ah
	xorw %bx, %bx
	int $0x10
	jmp 1b
2:	popa
	ret

drive:      .byte 0x80
msg_hello:  .asciz "boottest: hello from the boot sector\r\n"
msg_s2fail: .asciz "boottest: cannot load stage 2\r\n"

	.org 510
	.word 0xaa55

/* ---- stage 2 (LBA 1-7) ---- */
stage2:
	movw $msg_stage2, %bp
	movw $msg_stage2_len, %cx
	movw $0x1301, %ax       /* write string, update cursor */
	movw $0x0007, %bx
	xorw %dx, %dx
	int $0x10

	/* EDD present? */
	movb $0x41, %ah
	movw $0x55aa, %bx
	movb drive, %dl
	int $0x13
	pushw %cx
	pushw %bx
	movw $s_edd, %si
	call puts
	call put8_ah            /* version */
	movw $s_bx, %si
	call puts
	popw %ax
	call put16
	movw $s_cx, %si
	call puts
	popw %ax
	call put16
	call crlf

	/* CHS geometry (AH=08h) */
	movb $0x08, %ah
	movb drive, %dl
	pushw %es
	int $0x13
	popw %es
	movb %cl, %al
	andw $0x3f, %ax
	movw %ax, spt
	movb %dh, %al
	xorb %ah, %ah
	incw %ax
	movw %ax, heads
	movb %dl, %cl           /* number of hard disks */
	movw $s_geo, %si
	call puts
	movw heads, %ax
	call put16
	movw $s_spt, %si
	call puts
	movw spt, %ax
	call put16
	movw $s_drives, %si
	call puts
	movb %cl, %al
	call put8
	call crlf

	/* extended parameters (AH=48h): total sectors */
	movw $0x1e, edd_params
	movb $0x48, %ah
	movb drive, %dl
	movw $edd_params, %si
	int $0x13
	movw $s_params, %si
	call puts
	movl edd_params+16, %eax
	movl %eax, total
	call put32
	call crlf

	/* LBA read of the data area, then its sum */
	movw $DATA_SECTORS, dap_count
	movw $0, dap_off
	movw $DATA_SEG, dap_seg
	movl $DATA_LBA, dap_lba
	movb $0x42, %ah
	call ext_call
	jc fail_lba
	movw $DATA_SEG, %ax
	call checksum
	movw $s_lbasum, %si
	call puts
	call put32
	call crlf

	/* CHS read of the same sectors */
	movl $DATA_LBA, %eax
	call lba_to_chs
	movw $0x0200 + DATA_SECTORS, %ax
	movw $CHS_SEG, %bx
	movw %bx, %es
	xorw %bx, %bx
	int $0x13
	pushw %ds
	popw %es
	jc fail_chs
	movw $CHS_SEG, %ax
	call checksum
	movw $s_chssum, %si
	call puts
	call put32
	call crlf

	/* extended write at EXT_WRITE_LBA, CHS write at CHS_WRITE_LBA */
	movb $'E', %al
	call fill_write
	movw $1, dap_count
	movw $0, dap_off
	movw $WRITE_SEG, dap_seg
	movl $EXT_WRITE_LBA, dap_lba
	movw $0x4300, %ax
	call ext_call
	movb %ah, %cl
	pushw %cx
	movb $'C', %al
	call fill_write
	movl $CHS_WRITE_LBA, %eax
	call lba_to_chs
	movw $WRITE_SEG, %bx
	movw %bx, %es
	xorw %bx, %bx
	movw $0x0301, %ax
	int $0x13
	pushw %ds
	popw %es
	movw $s_write, %si
	call puts
	popw %cx
	pushw %ax
	movb %cl, %al
	call put8
	movw $s_chs, %si
	call puts
	popw %ax
	movb %ah, %al
	call put8
	call crlf

	/* bad requests: beyond the end, a buffer outside RAM, over the ROM */
	movw $1, dap_count
	movw $0, dap_off
	movw $DATA_SEG, dap_seg
	movl total, %eax
	movl %eax, dap_lba
	movb $0x42, %ah
	call ext_call
	movw $s_beyond, %si
	call report_cf
	/* The buffer checks are hypercim's (a PC BIOS need not make them):
	   only where F000:FFF5 holds the "HC-BIOS" mark. */
	pushw %es
	movw $0xf000, %ax
	movw %ax, %es
	movw $0xfff5, %di
	movw $s_hcmark, %si
	movw $7, %cx
	repe cmpsb
	popw %es
	jne 9f
	movw $1, dap_count      /* a failed call zeroed it */
	movw $0xffff, dap_off
	movw $0xffff, dap_seg
	movl $0, dap_lba
	movl $0, dap_flat
	movl $0xfff00000, dap_flat+4
	movb $0x42, %ah
	call ext_call
	movw $s_badbuf, %si
	call report_cf
	movw $1, dap_count
	movw $0, dap_off
	movw $0xf000, dap_seg
	movb $0x42, %ah
	call ext_call
	movw $s_rombuf, %si
	call report_cf
9:

	/* memory map (E820h): entries and RAM in KiB */
	xorl %ebx, %ebx
	xorl %ebp, %ebp         /* RAM KiB */
	xorw %si, %si           /* entries */
1:	movl $0xe820, %eax
	movl $0x534d4150, %edx
	movl $24, %ecx
	movw $E820_BUF, %di
	int $0x15
	jc 3f
	cmpl $0x534d4150, %eax
	jne 3f
	incw %si
	cmpl $1, E820_BUF+16
	jne 2f
	movl E820_BUF+8, %eax
	movl E820_BUF+12, %edx
	shrdl $10, %edx, %eax
	addl %eax, %ebp
2:	testl %ebx, %ebx
	jnz 1b
3:	movw %si, %cx
	movw $s_e820, %si
	call puts
	movw %cx, %ax
	call put16
	movw $s_ram, %si
	call puts
	movl %ebp, %eax
	call put32
	call crlf

	/* base memory (int 12h), extended memory (88h, E801h), A20 */
	int $0x12
	movw $s_int12, %si
	call puts
	call put16
	movb $0x88, %ah
	int $0x15
	movw $s_int88, %si
	call puts
	call put16
	movw $0xe801, %ax
	int $0x15
	pushw %bx
	movw $s_e801, %si
	call puts
	call put16
	movw $s_bx, %si
	call puts
	popw %ax
	call put16
	movw $0x2402, %ax
	int $0x15
	movw $s_a20, %si
	call puts
	call put8
	call crlf

	/* the timer: wait for the tick count (int 1Ah) to move */
	xorb %ah, %ah
	int $0x1a
	movw %dx, %bx
1:	sti
	hlt
	xorb %ah, %ah
	int $0x1a
	cmpw %dx, %bx
	je 1b
	movw $s_timer, %si
	call puts

	/* a key within ~3 s (int 16h), then a blocking read of it */
	movw $s_key, %si
	call puts
	xorb %ah, %ah
	int $0x1a
	movw %dx, %bx
1:	movb $0x01, %ah
	int $0x16
	jnz 2f
	sti
	hlt
	xorb %ah, %ah
	int $0x1a
	subw %bx, %dx
	cmpw $55, %dx
	jb 1b
	movw $s_nokey, %si
	call puts
	jmp 3f
2:	xorb %ah, %ah
	int $0x16
	call put16
	call crlf

3:	movw $s_off, %si
	call puts
	/* APM: check, connect real mode, driver 1.2, all devices off */
	movw $0x5300, %ax
	xorw %bx, %bx
	int $0x15
	jc 4f
	movw $0x5301, %ax
	xorw %bx, %bx
	int $0x15
	movw $0x530e, %ax
	xorw %bx, %bx
	movw $0x0102, %cx
	int $0x15
	movw $0x5307, %ax
	movw $0x0001, %bx
	movw $0x0003, %cx
	int $0x15
4:	xorb %al, %al
	outb %al, $0xf4         /* hypercim / QEMU isa-debug-exit */
	movw $0x2000, %ax       /* ACPI PM1a_CNT: SLP_EN, S5 (QEMU) */
	movw $0x604, %dx
	outw %ax, %dx
	movw $s_offfail, %si
	call puts
	cli
5:	hlt
	jmp 5b

fail_lba:
	movw $s_faillba, %si
	jmp 1f
fail_chs:
	movw $s_failchs, %si
1:	call puts
	call put8_ah
	call crlf
	int $0x18

/* ext_call: int 13h function AH with the packet dap; CF/AH as returned. */
ext_call:
	movb drive, %dl
	movw $dap, %si
	int $0x13
	ret

/* report_cf: print the label at SI, then CF and AH of the last call. */
report_cf:
	pushf
	pushw %ax
	call puts
	movw $s_cf, %si
	call puts
	popw %ax
	popf
	pushw %ax
	movb $'0', %al
	adcb $0, %al
	call putc
	movw $s_ah, %si
	call puts
	popw %ax
	call put8_ah
	call crlf
	ret

/* lba_to_chs: EAX = LBA -> CX, DH for int 13h AH=02h/03h, DL = drive. */
lba_to_chs:
	xorl %edx, %edx
	movzwl spt, %ecx
	divl %ecx               /* EAX = track, EDX = sector - 1 */
	incw %dx
	movw %dx, %cx           /* CL bits 0-5: sector */
	xorl %edx, %edx
	pushl %ecx
	movzwl heads, %ecx
	divl %ecx               /* EAX = cylinder, DX = head */
	popl %ecx
	movb %dl, %dh
	movb %al, %ch
	shlb $6, %ah
	orb %ah, %cl
	movb drive, %dl
	ret

/* fill_write: the write buffer becomes "HC" AL, then bytes i & 0xff. */
fill_write:
	pushw %es
	movw $WRITE_SEG, %bx
	movw %bx, %es
	xorw %di, %di
	movb %al, %ah
	xorw %cx, %cx
1:	movb %cl, %es:(%di)
	incw %di
	incw %cx
	cmpw $512, %cx
	jb 1b
	movw $0x4348, %es:0     /* "HC" */
	movb %ah, %es:2
	popw %es
	ret

/* checksum: EAX = 32-bit sum of the DATA_SECTORS sectors at segment AX. */
checksum:
	pushw %ds
	movw %ax, %ds
	xorl %eax, %eax
	xorw %si, %si
	movw $DATA_SECTORS*512/4, %cx
1:	addl (%si), %eax
	addw $4, %si
	loop 1b
	popw %ds
	ret

puts:
	pushw %ax
	pushw %si
1:	lodsb
	testb %al, %al
	jz 2f
	call putc
	jmp 1b
2:	popw %si
	popw %ax
	ret

putc:
	pushw %ax
	pushw %bx
	movb $0x0e, %ah
	xorw %bx, %bx
	int $0x10
	popw %bx
	popw %ax
	ret

crlf:
	pushw %ax
	movb $'\r', %al
	call putc
	movb $'\n', %al
	call putc
	popw %ax
	ret

put8_ah:
	pushw %ax
	movb %ah, %al
	call put8
	popw %ax
	ret

put32:
	rorl $16, %eax
	call put16
	rorl $16, %eax
put16:
	xchgb %al, %ah
	call put8
	xchgb %al, %ah
put8:
	pushw %ax
	shrb $4, %al
	call nibble
	popw %ax
	pushw %ax
	call nibble
	popw %ax
	ret
nibble:
	andb $0x0f, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe 1f
	addb $'a'-'9'-1, %al
1:	jmp putc

msg_stage2: .ascii "boottest: stage 2 loaded\r\n"
	msg_stage2_len = . - msg_stage2
s_edd:     .asciz "edd: ah="
s_bx:      .asciz " bx="
s_cx:      .asciz " cx="
s_geo:     .asciz "geometry: heads="
s_spt:     .asciz " spt="
s_drives:  .asciz " drives="
s_params:  .asciz "params: sectors="
s_lbasum:  .asciz "lba-sum="
s_chssum:  .asciz "chs-sum="
s_write:   .asciz "write: ext="
s_chs:     .asciz " chs="
s_beyond:  .asciz "beyond-end:"
s_badbuf:  .asciz "bad-buffer:"
s_rombuf:  .asciz "rom-buffer:"
s_hcmark:  .ascii "HC-BIOS"
s_cf:      .asciz " cf="
s_ah:      .asciz " ah="
s_e820:    .asciz "e820: entries="
s_ram:     .asciz " ram-kib="
s_int12:   .asciz "memory: int12="
s_int88:   .asciz " int15-88="
s_e801:    .asciz " e801="
s_a20:     .asciz " a20="
s_timer:   .asciz "timer: ticking\r\n"
s_key:     .asciz "key? "
s_nokey:   .asciz "none\r\n"
s_off:     .asciz "boottest: powering off\r\n"
s_offfail: .asciz "boottest: power-off failed\r\n"
s_faillba: .asciz "boottest: LBA read failed, ah="
s_failchs: .asciz "boottest: CHS read failed, ah="

	.balign 4
spt:        .word 0
heads:      .word 0
total:      .long 0
dap:        .byte 0x18, 0
dap_count:  .word 0
dap_off:    .word 0
dap_seg:    .word 0
dap_lba:    .long 0, 0
dap_flat:   .long 0, 0
edd_params: .fill 0x1e, 1, 0

	.balign 512
