package ir

// A Binding says what a function's parameters and entry IRQL are in its
// caller's terms: the arguments of one call, themselves rewritten in the
// terms of the function where a walk started.
type Binding struct {
	Params []*Expr // parameter i is Params[i]; nil or missing: unknown
	IRQL   *Expr   // nil: unknown
	// Call, when set, may replace a call by what it returns (a summary of
	// the callee): it gets the call as it was and its arguments rewritten,
	// and returns nil to keep the call.
	Call func(call *Expr, args []*Expr) *Expr
}

// Substituter rewrites expressions of one function in the terms of a
// Binding, remembering what it rewrote.
type Substituter struct {
	b    *Builder
	bind Binding
	memo map[*Expr]*Expr
}

// NewSubstituter rewrites in the terms of bind.
func (b *Builder) NewSubstituter(bind Binding) *Substituter {
	return &Substituter{b: b, bind: bind, memo: map[*Expr]*Expr{}}
}

// Subst rewrites e: parameters and the entry IRQL become what the binding
// says, and the function's own stack addresses become unknown (they mean
// nothing to the caller). Everything else is rebuilt through the Builder's
// constructors, so the result is simplified again: a callee's test of its
// parameter becomes a test of the caller's value.
func (s *Substituter) Subst(e *Expr) *Expr {
	if e == nil {
		return nil
	}
	if r, ok := s.memo[e]; ok {
		return r
	}
	r := s.subst(e)
	s.memo[e] = r
	return r
}

func (s *Substituter) subst(e *Expr) *Expr {
	b := s.b
	switch e.Op {
	case OpConst, OpAddr, OpImport, OpOpaque, OpPhi:
		return e
	case OpParam:
		if i := int(e.V); i < len(s.bind.Params) {
			return s.bind.Params[i]
		}
		return nil
	case OpIRQL:
		return s.bind.IRQL
	case OpStack:
		return nil
	case OpLoad:
		return b.Load(s.Subst(e.A), int(e.W))
	case OpCall:
		args := e.Args()
		for i, a := range args {
			args[i] = s.Subst(a)
		}
		if s.bind.Call != nil {
			if r := s.bind.Call(e, args); r != nil {
				return r
			}
		}
		return b.Call(uint32(e.V), e.A, args)
	case OpNeg:
		return b.Neg(s.Subst(e.A))
	case OpNot:
		return b.Not(s.Subst(e.A))
	case OpZext:
		return b.Zext(s.Subst(e.A), int(e.W))
	case OpSext:
		return b.Sext(s.Subst(e.A), int(e.W))
	case OpTrunc:
		return b.Trunc(s.Subst(e.A), int(e.W))
	case OpSelect:
		return b.Select(s.Subst(e.A), s.Subst(e.B), s.Subst(e.C))
	}
	if e.Op.IsCompare() {
		return b.Cmp(e.Op, s.Subst(e.A), s.Subst(e.B))
	}
	return b.Bin(e.Op, s.Subst(e.A), s.Subst(e.B))
}
