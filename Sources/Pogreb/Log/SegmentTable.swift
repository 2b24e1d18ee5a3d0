/// The live segments by file number: an array indexed by the number for the small numbers the
/// writer hands out (the smallest free one is reused) — a lookup sits on every read — and a
/// dictionary for any number past them.
///
/// File numbers come from segment headers, which a damaged or crafted file can set to anything up
/// to 2^28 - 1. The array therefore only grows to cover a number below `2 × count + 64` (count
/// including the new segment): its length stays proportional to the segments present, never to a
/// number read from a file. A number past that lives in ``sparse``, found by one more branch and
/// a dictionary lookup (which normal use never reaches: a new segment takes the smallest free
/// number, so numbers stay below the count of segments alive at once).
@safe struct SegmentTable: @unchecked Sendable {
    // @unchecked Sendable: `unretained` mirrors `slots`, which owns the segments; all three
    // stores change only under the database's exclusive state lock.
    private var slots: [Segment?] = []
    /// The same segments without reference counting, for the read path (see ``mapped(_:)``).
    private var unretained: [Unmanaged<Segment>?] = unsafe []
    /// Segments whose number is past what ``slots`` covers.
    private var sparse: [UInt32: Segment] = [:]
    private(set) var count = 0

    /// The length `slots` may grow to, given `count` segments.
    private static func denseLimit(count: Int) -> Int { 2 * count + 64 }

    /// The length of the array part (for tests: it must stay proportional to ``count``).
    var denseLength: Int { slots.count }

    init() {}

    init(_ segments: [UInt32: Segment]) {
        for number in segments.keys.sorted() { self[number] = segments[number] }
    }

    @inline(__always)
    subscript(number: UInt32) -> Segment? {
        get {
            let i = Int(number)
            if i < slots.count { return slots[i] }
            return sparse.isEmpty ? nil : sparse[number]
        }
        set {
            let i = Int(number)
            if i >= slots.count {
                if sparse[number] != nil || newValue == nil || i >= Self.denseLimit(count: count + 1) {
                    let old = sparse[number]
                    sparse[number] = newValue
                    if old == nil, newValue != nil { count += 1 }
                    if old != nil, newValue == nil { count -= 1 }
                    return
                }
                slots.append(contentsOf: repeatElement(nil, count: i + 1 - slots.count))
                unsafe unretained.append(contentsOf: repeatElement(nil, count: i + 1 - unretained.count))
                // Numbers the array covers now live in it, so a lookup finds them there.
                for (moved, segment) in sparse where Int(moved) < slots.count {
                    sparse[moved] = nil
                    slots[Int(moved)] = segment
                    unsafe unretained[Int(moved)] = unsafe Unmanaged.passUnretained(segment)
                }
            }
            if slots[i] == nil, newValue != nil { count += 1 }
            if slots[i] != nil, newValue == nil { count -= 1 }
            slots[i] = newValue
            unsafe unretained[i] = unsafe newValue.map { unsafe Unmanaged.passUnretained($0) }
        }
    }

    /// Segment `number` as an unretained reference, nil when there is none. Reads only the table.
    @inline(__always)
    func unretainedSegment(_ number: UInt32) -> Unmanaged<Segment>? {
        let i = Int(number)
        guard unsafe i < unretained.count else {
            guard !sparse.isEmpty, let segment = sparse[number] else { return nil }
            return unsafe Unmanaged.passUnretained(segment)
        }
        return unsafe unretained[i]
    }

    /// The mapped bytes of segment `number` in the table at `table`: its address and length (0
    /// when it is not open, not mapped or does not exist). Touches no reference count: the caller
    /// holds the state lock, under which the table keeps the segment, and the segment its
    /// published handle, alive.
    ///
    /// Static and given the table by pointer, with the table read first and the segment after:
    /// as a method, the segment's reference-bit store (an atomic, opaque to the optimizer) made
    /// the compiler retain the table's arrays around it, on every lookup (callgrind: 4 retain or
    /// release calls a hit).
    @inline(__always)
    static func mapped(_ number: UInt32, in table: UnsafePointer<SegmentTable>) -> (base: UnsafeRawPointer?, count: Int)
    {
        guard let segment = unsafe table.pointee.unretainedSegment(number) else { return (nil, 0) }
        return unsafe segment._withUnsafeGuaranteedRef { unsafe $0.mapped }
    }

    @discardableResult
    mutating func removeValue(forKey number: UInt32) -> Segment? {
        let old = self[number]
        self[number] = nil
        return old
    }

    /// The segments, in file-number order.
    var values: [Segment] {
        slots.compactMap { $0 } + sparse.keys.sorted().compactMap { sparse[$0] }
    }

    /// The file numbers in use.
    var keys: [UInt32] {
        slots.indices.compactMap { slots[$0] == nil ? nil : UInt32($0) } + sparse.keys.sorted()
    }
}
