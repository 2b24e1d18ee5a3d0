/// The items of an input, as the sequence the bulk builder reads once.
final class ItemSource: Sequence, IteratorProtocol {
    private var reader: LineReader
    private let decoder: LineDecoder
    private let name: String
    let progress: Progress
    /// Called on Ctrl-C or when the input cannot be read: must not return (see `build`).
    var onAbort: (ToolError) -> Never = { _ in fatalError("no abort handler") }
    private var count = 0

    init(reader: consuming LineReader, decoder: LineDecoder, name: String, progress: Progress) {
        self.reader = reader
        self.decoder = decoder
        self.name = name
        self.progress = progress
    }

    func next() -> ([UInt8], [UInt8])? {
        do throws(ToolError) {
            while let line = try reader.nextLine() {
                guard let item = try decoder.decode(line, number: reader.lineNumber, source: name) else { continue }
                count += 1
                if count & 4095 == 0 {
                    if Interrupt.requested { onAbort(Interrupt.error) }
                    progress.update(progress.unit == .bytes ? reader.bytesRead : Int64(count))
                }
                return item
            }
        } catch {
            onAbort(error)
        }
        return nil
    }
}
