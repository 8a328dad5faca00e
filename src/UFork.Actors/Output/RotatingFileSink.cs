namespace UFork.Output;

/// <summary>
/// The daemon's log: lines as on a terminal (<see cref="LineFormat"/>, without colour), appended to a file that is rotated by size
/// (path → path.1 → ... → path.(files-1), the oldest dropped). Each batch of lines is written and
/// flushed under one lock and rotation happens only between batches, so a line is never split across
/// two files and no line is lost while the files move; a file may pass max-size by one batch.
/// Written here rather than taken from a logging library: those format messages, while this has to
/// pass a worker's raw bytes through whole-line and lossless, and stall a flooding worker, not buffer it.
/// Like <see cref="TaggedLineWriter"/>, writing never throws, so a full disk never fails a worker's actor.
/// </summary>
public sealed class RotatingFileSink : IOutputSink, IReopenableOutput, IDisposable
{
    private readonly long _maxSize;
    private readonly int _files;
    private readonly LineFormat _format;
    private readonly Lock _lock = new();
    private FileStream _file;
    private TaggedLineWriter _writer;
    private long _rotateAt;

    /// <exception cref="IOException">The file cannot be opened (missing directory, no permission).</exception>
    public RotatingFileSink(string path, long maxSize, int files, LogFormat format = LogFormat.Text)
    {
        Path = path;
        _maxSize = maxSize;
        _files = files;
        _format = new LineFormat(format, colour: false); // a file is read later, by less or a shipper
        (_file, _writer) = Open(path, _format);
        _rotateAt = _maxSize;
    }

    public string Path { get; }

    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        lock (_lock)
        {
            _writer.WriteLines(slot, pid, stream, lines);
            RotateIfFull();
        }
    }

    public void WriteLine(string line)
    {
        lock (_lock)
        {
            _writer.WriteLine(line);
            RotateIfFull();
        }
    }

    public void Reopen()
    {
        lock (_lock)
        {
            var (file, writer) = Open(Path, _format); // first, so that a failure leaves the old file in use
            _writer.Dispose();
            (_file, _writer) = (file, writer);
            _rotateAt = _maxSize;
        }
    }

    /// <summary>
    /// Renames first (an open file can be), then swaps to the new file: if any step fails, the sink
    /// keeps writing to the file it has, says so in it, and tries again one max-size later.
    /// </summary>
    private void RotateIfFull()
    {
        if (_file.Position < _rotateAt)
            return;
        try
        {
            Shift();
            var (file, writer) = Open(Path, _format);
            _writer.Dispose();
            (_file, _writer) = (file, writer);
            _rotateAt = _maxSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _rotateAt = _file.Position + _maxSize;
            _writer.WriteLine($"[ufork] error: cannot rotate {Path}: {e.Message}; writing on");
        }
    }

    /// <summary>path.(files-2) → path.(files-1), ..., path → path.1; with one file, the file starts over.</summary>
    private void Shift()
    {
        for (var n = _files - 1; n >= 1; n--)
        {
            var from = n == 1 ? Path : $"{Path}.{n - 1}";
            if (File.Exists(from))
                File.Move(from, $"{Path}.{n}", overwrite: true);
        }
        if (_files == 1)
            File.Delete(Path);
    }

    private static (FileStream, TaggedLineWriter) Open(string path, LineFormat format)
    {
        // Unbuffered: the TaggedLineWriter buffers a batch and flushes it whole.
        var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        return (file, new TaggedLineWriter(file, format));
    }

    /// <summary>Closes the file, unless a write is stuck (a hung network file system): then it waits no longer than <see cref="TaggedLineWriter.DisposeWait"/>.</summary>
    public void Dispose()
    {
        if (!_lock.TryEnter(TaggedLineWriter.DisposeWait))
            return;
        try
        {
            _writer.Dispose();
        }
        finally
        {
            _lock.Exit();
        }
    }
}
