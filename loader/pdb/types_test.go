package pdb

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/drvhazard/drvhazard/loader"
)

// The C++ fixture's classes come out of the type stream with their bases,
// in every build (LTO too: the types stay when the vtables' symbols go).
func TestClassesOfFixture(t *testing.T) {
	for _, build := range []string{"clang-O0", "clang", "clang-lto"} {
		f, err := Open("../../testdata/bin/mf_vcall." + build + ".pdb")
		if err != nil {
			t.Fatal(err)
		}
		c := f.Classes()
		for class, want := range map[string]loader.Class{
			"OwnerProcessor":    {Bases: []string{"RequestProcessor"}, Polymorphic: true},
			"CountingProcessor": {Bases: []string{"RequestProcessor"}, Polymorphic: true},
			"RequestProcessor":  {Bases: []string{"PoolAllocated"}, Polymorphic: true},
			"FileEventSink":     {Bases: []string{"EventSink"}, Polymorphic: true},
			"EventSink":         {Bases: []string{"PoolAllocated"}, Polymorphic: true},
			"PoolAllocated":     {},
		} {
			got, ok := c[class]
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s is %+v (defined %v), want %+v", build, class, got, ok, want)
			}
		}
	}
}

func TestVtableClass(t *testing.T) {
	for _, tc := range []struct {
		sym, class, base string
		ok               bool
	}{
		{"??_7OwnerProcessor@@6B@", "OwnerProcessor", "", true},
		{"??_7Derived@inner@ns@@6B@", "ns::inner::Derived", "", true},
		{"??_7D@@6BBase@@@", "D", "Base", true},
		{"??_7D@@6BBase@ns@@@", "D", "ns::Base", true},
		{"??_7?$Handler@H@@6B@", "", "", false}, // a template: not read
		{"??_7A@0@6B@", "", "", false},          // a back-reference
		{"??_7@@6B@", "", "", false},
		{"??_7A@@6B", "", "", false},
		{"??_7A", "", "", false},
		{"??_R4A@@6B@", "", "", false}, // RTTI complete object locator
		{"?Process@OwnerProcessor@@UEAA_JPEAU_FLT_CALLBACK_DATA@@@Z", "", "", false},
	} {
		class, base, ok := VtableClass(tc.sym)
		if class != tc.class || base != tc.base || ok != tc.ok {
			t.Errorf("VtableClass(%q) = %q, %q, %v; want %q, %q, %v", tc.sym, class, base, ok, tc.class, tc.base, tc.ok)
		}
	}
}

// tpi assembles a type stream of the given records (kind and data each).
func tpi(recs ...[]byte) []byte {
	le := binary.LittleEndian
	var body []byte
	for _, r := range recs {
		body = le.AppendUint16(body, uint16(len(r)))
		body = append(body, r...)
	}
	hdr := make([]byte, tpiHeaderSize)
	le.PutUint32(hdr[0:], 20040203)
	le.PutUint32(hdr[4:], tpiHeaderSize)
	le.PutUint32(hdr[8:], 0x1000)
	le.PutUint32(hdr[12:], 0x1000+uint32(len(recs)))
	le.PutUint32(hdr[16:], uint32(len(body)))
	return append(hdr, body...)
}

func classRec(prop uint16, fields, vshape uint32, name string) []byte {
	le := binary.LittleEndian
	r := le.AppendUint16(nil, lfClass)
	r = le.AppendUint16(r, 0) // count
	r = le.AppendUint16(r, prop)
	r = le.AppendUint32(r, fields)
	r = le.AppendUint32(r, 0)
	r = le.AppendUint32(r, vshape)
	r = le.AppendUint16(r, 0x8002) // size: LF_USHORT
	r = le.AppendUint16(r, 0x10)
	return append(append(r, name...), 0)
}

func TestParseClasses(t *testing.T) {
	le := binary.LittleEndian
	// 0x1000 Base (declaration), 0x1001 Base, 0x1002 field list of Derived:
	// LF_BCLASS Base at 0, padding, LF_VBCLASS Base, then a member, 0x1003
	// Derived.
	fl := le.AppendUint16(nil, lfFieldList)
	fl = le.AppendUint16(fl, lfBClass)
	fl = le.AppendUint16(fl, 3)
	fl = le.AppendUint32(fl, 0x1000)
	fl = le.AppendUint16(fl, 0)
	fl = append(fl, 0xf2, 0xf1)
	fl = le.AppendUint16(fl, lfVBClass)
	fl = le.AppendUint16(fl, 3)
	fl = le.AppendUint32(fl, 0x1001)
	fl = le.AppendUint32(fl, 0x74)
	fl = le.AppendUint16(fl, 0)
	fl = le.AppendUint16(fl, 1)
	fl = le.AppendUint16(fl, 0x150d) // LF_MEMBER: reading stops
	fl = append(fl, 1, 2, 3, 4)
	b := tpi(classRec(propFwdRef, 0, 0, "Base"), classRec(0, 0, 0, "Base"), fl, classRec(0, 0x1002, 0x1004, "Derived"))
	got, err := parseClasses(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]loader.Class{"Derived": {Bases: []string{"Base", "Base"}, Polymorphic: true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("classes %+v, want %+v (a class without fields has none listed; a vtable shape makes it polymorphic)", got, want)
	}

	// Damage: every cut of the stream is an error or a smaller answer,
	// never a panic.
	for n := 0; n < len(b); n++ {
		parseClasses(b[:n])
	}
	bad := append([]byte(nil), b...)
	le.PutUint16(bad[tpiHeaderSize:], 1) // a record shorter than its kind
	if _, err := parseClasses(bad); err == nil {
		t.Error("a one-byte record was accepted")
	}
	le.PutUint32(bad[16:], 1<<30)
	if _, err := parseClasses(bad); err == nil {
		t.Error("records past the stream were accepted")
	}
}

func TestMemberOf(t *testing.T) {
	for _, tc := range []struct {
		sym, class       string
		dtor, static, ok bool
	}{
		{"?Process@OwnerProcessor@@UEAA_JPEAU_FLT_CALLBACK_DATA@@@Z", "OwnerProcessor", false, false, true},
		{"?Run@Inner@ns@@QEAAXXZ", "ns::Inner", false, false, true},
		{"?Drop@Helper@@SAXPEAVIFoo@@@Z", "Helper", false, true, true},
		{"??_GOwnerProcessor@@UEAAPEAXI@Z", "OwnerProcessor", true, false, true},
		{"??1FileEventSink@@UEAA@XZ", "FileEventSink", true, false, true},
		{"??0OwnerProcessor@@QEAA@XZ", "", false, false, false}, // a constructor
		{"?Free@@YAXPEAX@Z", "", false, false, false},           // a free function
		{"?Run@?$Box@H@@QEAAXXZ", "", false, false, false},      // a template
		{"PreReadV", "", false, false, false},
		{"?", "", false, false, false},
		{"?A@B@@", "", false, false, false},
	} {
		class, dtor, static, ok := MemberOf(tc.sym)
		if class != tc.class || dtor != tc.dtor || static != tc.static || ok != tc.ok {
			t.Errorf("MemberOf(%q) = %q, %v, %v, %v; want %q, %v, %v, %v", tc.sym, class, dtor, static, ok, tc.class, tc.dtor, tc.static, tc.ok)
		}
	}
}
