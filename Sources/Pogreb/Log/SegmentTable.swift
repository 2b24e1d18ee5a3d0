/// The live segments by file number: an array indexed by the number, since numbers are small
/// (the smallest free one is reused) and a lookup sits on every read.
struct SegmentTable: Sendable {
    private var slots: [Segment?] = []
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
            }
            if slots[i] == nil, newValue != nil { count += 1 }
            if slots[i] != nil, newValue == nil { count -= 1 }
            slots[i] = newValue
        }
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
