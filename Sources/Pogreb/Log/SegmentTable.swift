/// The live segments by file number: an array indexed by the number, since numbers are small
/// (the smallest free one is reused) and a lookup sits on every read.
@safe struct SegmentTable: @unchecked Sendable {
    // @unchecked Sendable: `unretained` mirrors `slots`, which owns the segments; both change
    // only under the database's exclusive state lock.
    private var slots: [Segment?] = []
    /// The same segments without reference counting, for the read path (see ``mapped(_:)``).
    private var unretained: [Unmanaged<Segment>?] = unsafe []
    private(set) var count = 0

    init() {}

    init(_ segments: [UInt32: Segment]) {
        for (number, segment) in segments { self[number] = segment }
    }

    @inline(__always)
    subscript(number: UInt32) -> Segment? {
        get {
            let i = Int(number)
            return i < slots.count ? slots[i] : nil
        }
        set {
            let i = Int(number)
            if i >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(nil, count: i + 1 - slots.count))
                unsafe unretained.append(contentsOf: repeatElement(nil, count: i + 1 - unretained.count))
            }
            if slots[i] == nil, newValue != nil { count += 1 }
            if slots[i] != nil, newValue == nil { count -= 1 }
            slots[i] = newValue
            unsafe unretained[i] = unsafe newValue.map { unsafe Unmanaged.passUnretained($0) }
        }
    }

    /// The mapped bytes of segment `number`: its address and length (0 when it is not mapped
    /// or does not exist). Touches no reference count: the caller holds the state lock, under
    /// which the table keeps the segment, and the segment its mapping, alive.
    @inline(__always)
    func mapped(_ number: UInt32) -> (base: UnsafeRawPointer?, count: Int) {
        let i = Int(number)
        guard unsafe i < unretained.count, let segment = unsafe unretained[i] else { return (nil, 0) }
        return unsafe segment._withUnsafeGuaranteedRef { unsafe ($0.mappedBase, $0.mappedCount) }
    }

    @discardableResult
    mutating func removeValue(forKey number: UInt32) -> Segment? {
        let old = self[number]
        self[number] = nil
        return old
    }

    /// The segments, in file-number order.
    var values: [Segment] { slots.compactMap { $0 } }

    /// The file numbers in use.
    var keys: [UInt32] { slots.indices.compactMap { slots[$0] == nil ? nil : UInt32($0) } }
}
