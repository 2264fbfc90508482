/*
 * gjbmem/config.h for a build without CMake (firmware): the settings CMake
 * writes from include/gjbmem/config.h.in, each with its default and
 * overridable with -D on the compiler's command line. Put
 * src/port/bare/include first on the include path.
 */
#ifndef GJBMEM_CONFIG_H
#define GJBMEM_CONFIG_H
/* Most partitions that may be live at once (mpart_module_init's ceiling);
 * each costs 128 bytes of .bss. */
#ifndef MPART_MAX_PARTS
#define MPART_MAX_PARTS 8
#endif
/* Regions (the create region plus mpart_addmem regions) one partition holds. */
#ifndef GJBMEM_MAX_REGIONS
#define GJBMEM_MAX_REGIONS 4
#endif
/* Hardening level (docs/RELIABILITY.md): 1 pointer checks (the default),
 * 2 also a guard after every block, 3 also fill patterns. */
#ifndef GJBMEM_HARDENING
#define GJBMEM_HARDENING 1
#endif
/* FIRST_FIT's quick lists (docs/DESIGN.md, "Quick lists"): none on a
 * target by default, so that every free merges at once and no allocation
 * ever has to merge set-aside blocks back (measured on Cortex-M4, they made
 * the worst allocation 1694 instructions instead of 611, docs/PORTING.md
 * section 5). A number of blocks turns them on for partitions of 32 KiB
 * or more. */
#ifndef GJBMEM_FF_QUICK
#define GJBMEM_FF_QUICK 0
#endif
/* Code size first (docs/PORTING.md, sections 3 and 4): the compiler
 * decides what to inline, and the partition calls take the engine's whole
 * calls. On Cortex-M4 at -Os, 38 % less code for 5 % (FIRST_FIT) to 8 %
 * (BUDDY) more instructions per pair; 0 for the speed build. */
#ifndef GJBMEM_SMALL_CODE
#define GJBMEM_SMALL_CODE 1
#endif
/* No valgrind or AddressSanitizer on a target. */
#ifndef GJBMEM_TOOLS
#define GJBMEM_TOOLS 0
#endif
#endif
