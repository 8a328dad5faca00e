namespace UFork.Tests.Support;

/// <summary>
/// Whether a process has stopped writing: its write count in /proc/PID/io, read twice in a row the same
/// (and above zero), means it is blocked on a full pipe.
/// </summary>
public sealed class OutputStall
{
    private long _previous = -1;

    /// <summary>Bytes the process has written so far (wchar in /proc/PID/io); 0 for one that just ended.</summary>
    public static long WrittenBytes(int pid)
    {
        try
        {
            return long.Parse(File.ReadAllLines($"/proc/{pid}/io").First(l => l.StartsWith("wchar:"))["wchar:".Length..]);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>True once a value is above zero and the same as the one before.</summary>
    public bool Check(long now)
    {
        var before = _previous;
        _previous = now;
        return now > 0 && now == before;
    }
}
