/* Interrupt and exception stubs: push a uniform frame, call isr_handler.
 * Vectors 0-31 are exceptions, 32-47 the remapped 8259 IRQs, 48-64 spare
 * (64 is the LAPIC timer), 255 the LAPIC spurious vector. */
	.text
	.code64

	.p2align 4
isr0:
	pushq $0
	pushq $0
	jmp isr_common
	.p2align 4
isr1:
	pushq $0
	pushq $1
	jmp isr_common
	.p2align 4
isr2:
	pushq $0
	pushq $2
	jmp isr_common
	.p2align 4
isr3:
	pushq $0
	pushq $3
	jmp isr_common
	.p2align 4
isr4:
	pushq $0
	pushq $4
	jmp isr_common
	.p2align 4
isr5:
	pushq $0
	pushq $5
	jmp isr_common
	.p2align 4
isr6:
	pushq $0
	pushq $6
	jmp isr_common
	.p2align 4
isr7:
	pushq $0
	pushq $7
	jmp isr_common
	.p2align 4
isr8:
	pushq $8
	jmp isr_common
	.p2align 4
isr9:
	pushq $0
	pushq $9
	jmp isr_common
	.p2align 4
isr10:
	pushq $10
	jmp isr_common
	.p2align 4
isr11:
	pushq $11
	jmp isr_common
	.p2align 4
isr12:
	pushq $12
	jmp isr_common
	.p2align 4
isr13:
	pushq $13
	jmp isr_common
	.p2align 4
isr14:
	pushq $14
	jmp isr_common
	.p2align 4
isr15:
	pushq $0
	pushq $15
	jmp isr_common
	.p2align 4
isr16:
	pushq $0
	pushq $16
	jmp isr_common
	.p2align 4
isr17:
	pushq $17
	jmp isr_common
	.p2align 4
isr18:
	pushq $0
	pushq $18
	jmp isr_common
	.p2align 4
isr19:
	pushq $0
	pushq $19
	jmp isr_common
	.p2align 4
isr20:
	pushq $0
	pushq $20
	jmp isr_common
	.p2align 4
isr21:
	pushq $21
	jmp isr_common
	.p2align 4
isr22:
	pushq $0
	pushq $22
	jmp isr_common
	.p2align 4
isr23:
	pushq $0
	pushq $23
	jmp isr_common
	.p2align 4
isr24:
	pushq $0
	pushq $24
	jmp isr_common
	.p2align 4
isr25:
	pushq $0
	pushq $25
	jmp isr_common
	.p2align 4
isr26:
	pushq $0
	pushq $26
	jmp isr_common
	.p2align 4
isr27:
	pushq $0
	pushq $27
	jmp isr_common
	.p2align 4
isr28:
	pushq $0
	pushq $28
	jmp isr_common
	.p2align 4
isr29:
	pushq $29
	jmp isr_common
	.p2align 4
isr30:
	pushq $30
	jmp isr_common
	.p2align 4
isr31:
	pushq $0
	pushq $31
	jmp isr_common
	.p2align 4
isr32:
	pushq $0
	pushq $32
	jmp isr_common
	.p2align 4
isr33:
	pushq $0
	pushq $33
	jmp isr_common
	.p2align 4
isr34:
	pushq $0
	pushq $34
	jmp isr_common
	.p2align 4
isr35:
	pushq $0
	pushq $35
	jmp isr_common
	.p2align 4
isr36:
	pushq $0
	pushq $36
	jmp isr_common
	.p2align 4
isr37:
	pushq $0
	pushq $37
	jmp isr_common
	.p2align 4
isr38:
	pushq $0
	pushq $38
	jmp isr_common
	.p2align 4
isr39:
	pushq $0
	pushq $39
	jmp isr_common
	.p2align 4
isr40:
	pushq $0
	pushq $40
	jmp isr_common
	.p2align 4
isr41:
	pushq $0
	pushq $41
	jmp isr_common
	.p2align 4
isr42:
	pushq $0
	pushq $42
	jmp isr_common
	.p2align 4
isr43:
	pushq $0
	pushq $43
	jmp isr_common
	.p2align 4
isr44:
	pushq $0
	pushq $44
	jmp isr_common
	.p2align 4
isr45:
	pushq $0
	pushq $45
	jmp isr_common
	.p2align 4
isr46:
	pushq $0
	pushq $46
	jmp isr_common
	.p2align 4
isr47:
	pushq $0
	pushq $47
	jmp isr_common
	.p2align 4
isr48:
	pushq $0
	pushq $48
	jmp isr_common
	.p2align 4
isr49:
	pushq $0
	pushq $49
	jmp isr_common
	.p2align 4
isr50:
	pushq $0
	pushq $50
	jmp isr_common
	.p2align 4
isr51:
	pushq $0
	pushq $51
	jmp isr_common
	.p2align 4
isr52:
	pushq $0
	pushq $52
	jmp isr_common
	.p2align 4
isr53:
	pushq $0
	pushq $53
	jmp isr_common
	.p2align 4
isr54:
	pushq $0
	pushq $54
	jmp isr_common
	.p2align 4
isr55:
	pushq $0
	pushq $55
	jmp isr_common
	.p2align 4
isr56:
	pushq $0
	pushq $56
	jmp isr_common
	.p2align 4
isr57:
	pushq $0
	pushq $57
	jmp isr_common
	.p2align 4
isr58:
	pushq $0
	pushq $58
	jmp isr_common
	.p2align 4
isr59:
	pushq $0
	pushq $59
	jmp isr_common
	.p2align 4
isr60:
	pushq $0
	pushq $60
	jmp isr_common
	.p2align 4
isr61:
	pushq $0
	pushq $61
	jmp isr_common
	.p2align 4
isr62:
	pushq $0
	pushq $62
	jmp isr_common
	.p2align 4
isr63:
	pushq $0
	pushq $63
	jmp isr_common
	.p2align 4
isr64:
	pushq $0
	pushq $64
	jmp isr_common
	.p2align 4
isr255:
	pushq $0
	pushq $255
	jmp isr_common

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call isr_handler
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

	.section .rodata
	.p2align 3
	.globl isr_table
isr_table:
	.quad isr0
	.quad isr1
	.quad isr2
	.quad isr3
	.quad isr4
	.quad isr5
	.quad isr6
	.quad isr7
	.quad isr8
	.quad isr9
	.quad isr10
	.quad isr11
	.quad isr12
	.quad isr13
	.quad isr14
	.quad isr15
	.quad isr16
	.quad isr17
	.quad isr18
	.quad isr19
	.quad isr20
	.quad isr21
	.quad isr22
	.quad isr23
	.quad isr24
	.quad isr25
	.quad isr26
	.quad isr27
	.quad isr28
	.quad isr29
	.quad isr30
	.quad isr31
	.quad isr32
	.quad isr33
	.quad isr34
	.quad isr35
	.quad isr36
	.quad isr37
	.quad isr38
	.quad isr39
	.quad isr40
	.quad isr41
	.quad isr42
	.quad isr43
	.quad isr44
	.quad isr45
	.quad isr46
	.quad isr47
	.quad isr48
	.quad isr49
	.quad isr50
	.quad isr51
	.quad isr52
	.quad isr53
	.quad isr54
	.quad isr55
	.quad isr56
	.quad isr57
	.quad isr58
	.quad isr59
	.quad isr60
	.quad isr61
	.quad isr62
	.quad isr63
	.quad isr64
	.globl isr_spurious
isr_spurious:
	.quad isr255
