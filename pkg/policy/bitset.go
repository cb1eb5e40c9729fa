package policy

// bitset is a set of small integers (pod identity numbers).
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int32) { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int32) bool {
	return i >= 0 && int(i>>6) < len(b) && b[i>>6]&(1<<(uint(i)&63)) != 0
}
func (b bitset) intersects(o bitset) bool {
	for i := range b {
		if i < len(o) && b[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

func (b bitset) empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}
