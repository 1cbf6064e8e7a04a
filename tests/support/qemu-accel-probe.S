# The guest of tests/support/qemu-accel.sh: a 512-byte x86 boot sector that
# writes FBQ-ACCEL-OK to COM1 and leaves through isa-debug-exit (QEMU then
# exits with status (0x31 << 1) | 1 = 99). If an accelerator cannot take a
# guest from SeaBIOS to its boot sector, it certainly cannot boot a kernel.
.code16
.globl _start
_start:
  cli
  xor %ax, %ax
  mov %ax, %ds
  mov $0x3f8, %dx
  mov $msg, %si
1: lodsb
  test %al, %al
  jz 2f
  out %al, %dx
  jmp 1b
2: mov $0x31, %al
  out %al, $0xf4
3: hlt
  jmp 3b
msg: .asciz "FBQ-ACCEL-OK\r\n"
.org 510
.word 0xaa55
