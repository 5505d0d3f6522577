// Package lift is the value analysis over package cfg's graph: it lifts
// each x64 instruction into the symbolic IR of package ir and runs the
// lifter to a fixed point over each function's blocks.
//
// The lifter (lift.go) expresses each instruction's effect on registers,
// flags, the IRQL and memory cells (stack, image, and memory reached through
// parameters) as ir expressions; the forward pass (symflow.go) gates values
// on the branches that choose them where paths meet. From it come, in the
// function's own terms:
//
//   - the condition on every conditional and jump-table edge (Edge.Cond);
//   - the arguments, IRQL and target of every call (CallSite);
//   - what the function returns and the IRQL it returns at (Func.Result,
//     Func.ExitIRQL, Func.Returns), so that a helper's result can stand for
//     its call in its callers' conditions.
//
// Build runs cfg's descent with the lifter as its cfg.Values, so that calls
// and jumps that only values resolve are resolved while the graph is built;
// then it gives calls through pointers in writable data the routines the
// program stores there (globals.go), and C++ virtual calls the methods of
// the vtables their objects' constructors store (vcalls.go). The other
// functions are lifted when a rule asks (Program.Lift), and a function a
// rule reads closely is evaluated with every state kept (Evaluate).
package lift
