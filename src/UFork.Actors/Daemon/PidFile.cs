using Mono.Unix;
using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Output;

namespace UFork.Daemon;

/// <summary>
/// The file naming the arbiter's pid. Claimed before anything starts: refused while it names a live
/// process, taken over when that process is gone. Always written whole (a temp file linked or renamed
/// into place), so nobody reads half a pid; written again if deleted (checked every 30 s, as ufork
/// does); removed on a clean exit if it still names this process.
/// </summary>
internal sealed class PidFile : IDisposable
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(30);

    private readonly int _pid = Environment.ProcessId;
    private Timer? _check;

    private PidFile(string path) => Path = path;

    public string Path { get; }

    /// <exception cref="ArbiterStartException">A live process holds it, or it cannot be written.</exception>
    public static PidFile Claim(string path)
    {
        var temp = WriteTemp(path);
        try
        {
            // link(2) fails if the path exists, so of two arbiters starting at once exactly one gets it.
            if (Syscall.link(temp, path) == 0)
                return new PidFile(path);
            var error = Stdlib.GetLastError();
            if (error != Errno.EEXIST)
                throw new ArbiterStartException($"cannot write pidfile {path}: {UnixMarshal.GetErrorDescription(error)}");
            if (Holder(path) is { } holder && IsAlive(holder))
                throw new ArbiterStartException($"already running as pid {holder} (pidfile {path})");
            // Stale: its arbiter died without removing it. Two starts taking over the same stale file
            // within microseconds could both get here; the control socket beside it then refuses the
            // later one, which removes the pidfile as it leaves, and the winner writes it again (KeepWritten).
            File.Move(temp, path, overwrite: true);
            return new PidFile(path);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Starts the periodic check that writes the file again if someone deleted it.</summary>
    public void KeepWritten(IOutputSink log) =>
        _check = new Timer(_ => RewriteIfMissing(log), null, CheckInterval, CheckInterval);

    internal void RewriteIfMissing(IOutputSink log)
    {
        if (File.Exists(Path))
            return;
        string? temp = null;
        try
        {
            temp = WriteTemp(Path);
            File.Move(temp, Path, overwrite: true);
            log.WriteLine($"[ufork] warning: pidfile {Path} was deleted; wrote it again");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArbiterStartException)
        {
            log.WriteLine($"[ufork] warning: pidfile {Path} was deleted and cannot be written again: {e.Message}");
        }
        finally
        {
            if (temp is not null)
                File.Delete(temp);
        }
    }

    /// <summary>The pid a pidfile names, or null if it is missing or holds no pid.</summary>
    internal static int? Holder(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Running, and not a zombie; this process itself does not count (its pid was reused).</summary>
    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
            return false;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string WriteTemp(string path)
    {
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllText(temp, $"{Environment.ProcessId}\n");
            return temp;
        }
        catch (DirectoryNotFoundException)
        {
            throw new ArbiterStartException($"cannot write pidfile {path}: {System.IO.Path.GetDirectoryName(path)} does not exist");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArbiterStartException($"cannot write pidfile {path}: {e.Message}");
        }
    }

    public void Dispose()
    {
        _check?.Dispose();
        if (Holder(Path) == _pid)
            File.Delete(Path);
    }
}
