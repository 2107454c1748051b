/*
 * Entry points of the hypercim test guest.
 *
 * pvh_start:     32-bit protected mode, paging off, %ebx = hvm_start_info
 *                (Xen PVH boot, announced by the note below; QEMU and the
 *                hypercim VMM both use it).
 * linux64_start: 64-bit mode on the loader's identity page tables,
 *                %rsi = struct boot_params (Linux 64-bit boot protocol).
 * ap_trampoline: copied to TRAMPOLINE (0x1000); application processors
 *                start there in real mode after INIT-SIPI-SIPI.
 *
 * All three switch to the guest's own GDT and page tables (identity map
 * of the first 4 GiB with 2 MiB pages, statically built below) and call C.
 */
#define TRAMPOLINE 0x1000
#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18

	.section .note.Xen, "a"
	.p2align 2
	.long 4			/* namesz */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.section .data.pagetables, "aw"
	.p2align 12
	.globl pml4
pml4:	.quad pdpt + 0x3
	.fill 511, 8, 0
pdpt:	.quad pd + 0x3
	.quad pd + 0x1003
	.quad pd + 0x2003
	.quad pd + 0x3003
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.quad (i << 21) | 0x83
	.set i, i + 1
	.endr

	.data
	.p2align 4
gdt:	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10 data */
	.quad 0x00cf9a000000ffff	/* 0x18 32-bit code */
gdt_end:
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .text.entry, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	movl %ebx, %edi			/* start_info survives in %edi */
	lgdt gdt_ptr
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* EFER */
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* PG | PE */
	movl %eax, %cr0
	ljmp $SEL_CODE64, $pvh64

	.code64
pvh64:
	movl $1, %esi			/* boot protocol: 1 = PVH */
	jmp common64

	.globl linux64_start
linux64_start:
	cli
	cld
	movq %rsi, %rdi			/* boot_params */
	movl $2, %esi			/* boot protocol: 2 = Linux 64-bit */
	lgdt gdt_ptr(%rip)
	movq $pml4, %rax
	movq %rax, %cr3
	pushq $SEL_CODE64
	leaq common64(%rip), %rax
	pushq %rax
	lretq

common64:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	leaq bsp_stack_top(%rip), %rsp
	/* .bss is not cleared here: ELF loaders zero-fill it, and on hosts
	 * that emulate a non-paravirtual guest every store costs microseconds */
	call kmain
1:	cli
	hlt
	jmp 1b

/*
 * AP entry: 64-bit, on the guest's tables. Each AP takes the next stack.
 */
	.globl ap_entry64
ap_entry64:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl $1, %eax
	lock xaddl %eax, ap_next(%rip)	/* %eax = this AP's index (1..) */
	cmpl $64, %eax			/* no stack for more: park it */
	ja 2f
	movl %eax, %edi
	shlq $14, %rax			/* 16 KiB per AP stack */
	leaq ap_stacks(%rip), %rsp
	addq %rax, %rsp
	call ap_main
2:	cli
	hlt
	jmp 2b

/*
 * Real-mode trampoline; position-independent up to the copy at TRAMPOLINE.
 */
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl (TRAMPOLINE + tr_gdt_ptr - ap_trampoline)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $(TRAMPOLINE + tr_32 - ap_trampoline)
	.code32
tr_32:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	ljmp $SEL_CODE64, $ap_entry64
	.p2align 3
tr_gdt:	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00cf9a000000ffff
tr_gdt_ptr:
	.word 31
	.long TRAMPOLINE + tr_gdt - ap_trampoline
ap_trampoline_end:

	.code64
	.bss
	.p2align 12
bsp_stack:
	.skip 65536
bsp_stack_top:
	.globl ap_stacks
	.p2align 12
ap_stacks:
	.skip 16384 * 64		/* up to 64 APs, stack grows down from index+1 */
	.data
	.globl ap_next
ap_next: .long 1
