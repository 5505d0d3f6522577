// Command largedrv writes the source of the "large" fixture driver and its
// ground truth.  The driver is a minifilter with thousands of generated
// functions that call each other (a DAG: every function is reachable from a
// callback or DriverEntry), dense switches that compile to jump tables, and
// a sprinkling of import calls and tagged pool allocations, so that each
// toolchain's .text is over 1 MB.
//
// Output is a pure function of the flags (a fixed-seed splitmix64 drives all
// choices), so the build is reproducible.
//
//	go run ./testdata/gen/largedrv -o build/large.c -truth src/large.truth
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
)

// rng is splitmix64: tiny, fixed, and independent of the Go release.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

type generator struct {
	n      int
	r      rng
	src    *bufio.Writer
	truth  []string
	edges  map[string]map[string]bool // caller -> callee set
	tags   []string
	callee [][]int // callees of each function, decided up front
}

func fname(i int) string { return fmt.Sprintf("F%04d", i) }

func (g *generator) edge(caller, callee string) {
	m := g.edges[caller]
	if m == nil {
		m = map[string]bool{}
		g.edges[caller] = m
	}
	m[callee] = true
}

func (g *generator) p(format string, args ...any) { fmt.Fprintf(g.src, format, args...) }

// plan decides the call graph: each function i >= 3 gets a parent in
// [i/2, i) so everything is reachable from F0000..F0002, plus up to three
// extra callees with a higher index (keeps the graph acyclic).
func (g *generator) plan() {
	g.callee = make([][]int, g.n)
	for i := 3; i < g.n; i++ {
		lo := i / 2
		parent := lo + g.r.intn(i-lo)
		g.callee[parent] = append(g.callee[parent], i)
	}
	for i := 0; i < g.n; i++ {
		extra := g.r.intn(4)
		for k := 0; k < extra && i+1 < g.n; k++ {
			span := g.n - i - 1
			if span > 300 {
				span = 300
			}
			g.callee[i] = append(g.callee[i], i+1+g.r.intn(span))
		}
	}
}

func (g *generator) tag(i int) (string, string) {
	// 4 printable characters; C multi-char constant is the reverse.
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	t := []byte{'L', 'g', letters[i%52], letters[(i/52)%52]}
	rev := []byte{t[3], t[2], t[1], t[0]}
	return string(t), string(rev)
}

func (g *generator) function(i int) {
	name := fname(i)
	callees := g.callee[i]
	g.p("FIXTURE_NOINLINE ULONG %s(ULONG a, ULONG b)\n{\n", name)
	g.p("    ULONG acc = a ^ 0x%08xu;\n", uint32(g.r.next()))
	g.p("    ULONG t = b + gMix[(a + %du) & 63];\n", g.r.intn(64))
	// Arithmetic preamble of varying length.
	for k, m := 0, 1+g.r.intn(4); k < m; k++ {
		switch g.r.intn(4) {
		case 0:
			g.p("    acc = (acc << %d) | (acc >> %d);\n", 1+k, 31-k)
		case 1:
			g.p("    acc += t * 0x%xu;\n", 3+2*g.r.intn(1000))
		case 2:
			g.p("    t ^= acc >> %d;\n", 1+g.r.intn(20))
		default:
			g.p("    if (t & 0x%xu)\n        acc -= gMix[t & 63];\n", 1<<g.r.intn(16))
		}
	}
	// Split callees: some go into a switch, the rest are straight-line or
	// conditional calls.
	useSwitch := len(callees) >= 2 && g.r.intn(3) != 0
	var inSwitch, straight []int
	if useSwitch {
		inSwitch = callees
	} else {
		straight = callees
	}
	for _, c := range straight {
		cn := fname(c)
		switch g.r.intn(3) {
		case 0:
			g.p("    acc += %s(acc, t) * %du;\n", cn, 3+g.r.intn(20))
		case 1:
			g.p("    if (acc & 0x%xu)\n        t ^= %s(t, acc);\n", 1<<g.r.intn(8), cn)
		default:
			g.p("    acc ^= %s(t + %du, acc) << %d;\n", cn, g.r.intn(100), 1+g.r.intn(5))
		}
		g.edge(name, cn)
	}
	if useSwitch {
		// Dense 0..ncase-1 cases (>= 8) so both compilers emit a jump table.
		ncase := 8 + g.r.intn(5)
		if ncase < len(inSwitch) {
			ncase = len(inSwitch)
		}
		g.p("    switch ((a ^ t) %% %du) {\n", ncase+1)
		for k := 0; k < ncase; k++ {
			g.p("    case %d:\n", k)
			if k < len(inSwitch) {
				cn := fname(inSwitch[k])
				g.p("        acc += %s(acc ^ %du, t);\n", cn, k)
				g.edge(name, cn)
			} else {
				g.p("        acc = acc * %du + gMix[%d];\n", 3+2*k, (k*7)%64)
			}
			g.p("        break;\n")
		}
		g.p("    default:\n        acc = ~acc + t;\n        break;\n    }\n")
	}
	// Occasional imports.
	switch r := g.r.intn(100); {
	case r < 2:
		g.p("    DbgPrint(\"large: %%s %%lu\\n\", \"%s\", acc);\n", name)
		g.edge(name, "ntoskrnl.exe!DbgPrint")
	case r < 4:
		g.p("    KeStallExecutionProcessor(acc & 7);\n")
		g.edge(name, "HAL.dll!KeStallExecutionProcessor")
	case r < 5:
		g.p("    acc += (ULONG)(ULONG_PTR)PsGetCurrentProcessId();\n")
		g.edge(name, "ntoskrnl.exe!PsGetCurrentProcessId")
	case r < 6:
		tag, rev := g.tag(i)
		g.p("    {\n        PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 0x40 + (acc & 0xff), '%s');\n", rev)
		g.p("        if (p != NULL) {\n            acc += *(volatile UCHAR *)p;\n")
		g.p("            ExFreePoolWithTag(p, '%s');\n        }\n    }\n", rev)
		g.edge(name, "ntoskrnl.exe!ExAllocatePoolWithTag")
		g.edge(name, "ntoskrnl.exe!ExFreePoolWithTag")
		g.tags = append(g.tags, fmt.Sprintf("pooltag %s %s ntoskrnl.exe!ExAllocatePoolWithTag 0x200", name, tag))
	}
	// Never end on a call: the result is mixed after the last call, so no
	// call can become a tail jump.
	g.p("    gMix[(t + %du) & 63] ^= acc;\n", g.r.intn(64))
	g.p("    return (acc * 0x%xu) ^ (acc >> %d);\n}\n\n", 3+2*g.r.intn(50000), 3+g.r.intn(20))
}

func main() {
	out := flag.String("o", "large.c", "C source to write")
	truthPath := flag.String("truth", "large.truth", "ground truth to write")
	n := flag.Int("n", 6000, "number of generated functions")
	seed := flag.Uint64("seed", 0x64727668617a, "generator seed")
	flag.Parse()
	if *n < 3 {
		fmt.Fprintln(os.Stderr, "largedrv: -n must be >= 3")
		os.Exit(2)
	}

	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "largedrv:", err)
		os.Exit(1)
	}
	g := &generator{n: *n, r: rng{s: *seed}, src: bufio.NewWriterSize(f, 1<<20), edges: map[string]map[string]bool{}}
	g.plan()

	g.p("/* Generated by testdata/gen/largedrv (-n %d -seed %#x). Do not edit. */\n", *n, *seed)
	g.p("#include \"fixture_flt.h\"\n\n")
	g.p("ULONG gMix[64] = {\n")
	for k := 0; k < 64; k++ {
		g.p("    0x%08xu,\n", uint32(g.r.next()))
	}
	g.p("};\nPFLT_FILTER gFilter;\nvolatile ULONG gSink;\n\n")
	for i := 0; i < g.n; i++ {
		g.p("ULONG %s(ULONG a, ULONG b);\n", fname(i))
	}
	g.p("\n")
	for i := 0; i < g.n; i++ {
		g.function(i)
	}

	// The minifilter around the generated graph.
	g.p(`FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
LargePreRead(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    gSink = F0000(Data->Iopb->IrpFlags, Data->Iopb->MajorFunction) + 1;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE FLT_PREOP_CALLBACK_STATUS FLTAPI
LargePreWrite(PFLT_CALLBACK_DATA Data, PCFLT_RELATED_OBJECTS FltObjects, PVOID *CompletionContext)
{
    (void)FltObjects;
    (void)CompletionContext;
    if (Data->Iopb->IrpFlags & IRP_PAGING_IO)
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    gSink = F0001(Data->Iopb->IrpFlags, Data->Flags) + 2;
    return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

FIXTURE_NOINLINE NTSTATUS FLTAPI LargeUnload(FLT_FILTER_UNLOAD_FLAGS Flags)
{
    (void)Flags;
    FltUnregisterFilter(gFilter);
    return STATUS_SUCCESS;
}

const FLT_OPERATION_REGISTRATION Callbacks[] = {
    { IRP_MJ_READ, 0, LargePreRead, NULL, NULL },
    { IRP_MJ_WRITE, 0, LargePreWrite, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FilterRegistration = {
    sizeof(FLT_REGISTRATION), FLT_REGISTRATION_VERSION, 0, NULL, Callbacks, LargeUnload,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    (void)RegistryPath;
    gSink = F0002((ULONG)(ULONG_PTR)DriverObject, 7) + 3;
    status = FltRegisterFilter(DriverObject, &FilterRegistration, &gFilter);
    if (!NT_SUCCESS(status))
        return status;
    status = FltStartFiltering(gFilter);
    if (!NT_SUCCESS(status))
        FltUnregisterFilter(gFilter);
    return status;
}
`)
	if err := g.src.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "largedrv:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "largedrv:", err)
		os.Exit(1)
	}

	g.edge("LargePreRead", "F0000")
	g.edge("LargePreWrite", "F0001")
	g.edge("LargeUnload", "FLTMGR.SYS!FltUnregisterFilter")
	g.edge("DriverEntry", "F0002")
	g.edge("DriverEntry", "FLTMGR.SYS!FltRegisterFilter")
	g.edge("DriverEntry", "FLTMGR.SYS!FltStartFiltering")
	g.edge("DriverEntry", "FLTMGR.SYS!FltUnregisterFilter")
	if err := writeTruth(*truthPath, g); err != nil {
		fmt.Fprintln(os.Stderr, "largedrv:", err)
		os.Exit(1)
	}
}

func writeTruth(path string, g *generator) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "# Generated by testdata/gen/largedrv together with large.c. Do not edit.\n")
	fmt.Fprintf(w, "# %d generated functions F0000..F%04d, a DAG reachable from the callbacks and DriverEntry.\n", g.n, g.n-1)
	fmt.Fprintf(w, "registration 0x70 0x0203 0x0 rdata\n")
	fmt.Fprintf(w, "op IRP_MJ_READ 0x0 LargePreRead -\n")
	fmt.Fprintf(w, "op IRP_MJ_WRITE 0x0 LargePreWrite -\n")
	fmt.Fprintf(w, "table Callbacks LargePreRead\ntable Callbacks LargePreWrite\ntable FilterRegistration LargeUnload\n")
	fmt.Fprintf(w, "func DriverEntry\nfunc LargePreRead\nfunc LargePreWrite\nfunc LargeUnload\n")
	for i := 0; i < g.n; i++ {
		fmt.Fprintf(w, "func %s\n", fname(i))
	}
	callers := make([]string, 0, len(g.edges))
	for c := range g.edges {
		callers = append(callers, c)
	}
	sort.Strings(callers)
	for _, c := range callers {
		callees := make([]string, 0, len(g.edges[c]))
		for d := range g.edges[c] {
			callees = append(callees, d)
		}
		sort.Strings(callees)
		for _, d := range callees {
			fmt.Fprintf(w, "call %s %s\n", c, d)
		}
	}
	for _, t := range g.tags {
		fmt.Fprintln(w, t)
	}
	// Expected findings. The READ pre-op reaches the generated DAG with no
	// paging test: its deepest chain is about a hundred frames (6456 bytes
	// with gcc, 6584 with clang for the default -n and -seed), over MF4001's
	// 4096-byte budget. The WRITE pre-op returns on IRP_PAGING_IO before its
	// call. The imports the generator scatters (PsGetCurrentProcessId,
	// ExAllocatePoolWithTag(NonPagedPoolNx)) are no paging-path hazard.
	fmt.Fprintf(w, "finding MF4001 LargePreRead stack\n")
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
