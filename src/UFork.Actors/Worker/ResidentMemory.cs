namespace UFork.Worker;

/// <summary>Resident memory of a process, from /proc/PID/statm (the kernel offers no event for it).</summary>
internal static class ResidentMemory
{
    public static long? Of(int pid)
    {
        try
        {
            var fields = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
            return long.Parse(fields[1]) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // gone already: its exit is on its way
        }
    }

    public static string Describe(long bytes) => bytes >= 1L << 30
        ? $"{bytes / (double)(1L << 30):0.##} GiB"
        : $"{bytes / (double)(1L << 20):0.#} MiB";
}
