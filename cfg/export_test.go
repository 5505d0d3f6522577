package cfg

// DecodeAgain decodes blk's bytes, as Decode does for a block the descent
// did not keep.
func (p *Program) DecodeAgain(blk *Block) []Inst { return p.appendDecode(nil, blk) }

// Kept reports whether the descent kept blk's instructions packed.
func (blk *Block) Kept() bool { return blk.code != nil }
