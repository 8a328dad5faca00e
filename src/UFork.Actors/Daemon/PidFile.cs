using System.Text;
using Mono.Unix;
using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Output;

namespace UFork.Daemon;

/// <summary>
/// The file naming the arbiter's pid, claimed before anything starts. Who runs is decided by a lock, not
/// by the pid in it: the arbiter holds an exclusive lock on the pidfile (<see cref="LockedFiles.TryLock"/>)
/// through an fd kept open for its whole life, so a second start is refused while it lives, and a
/// pidfile left by a dead one (whatever pid it names now, after a reboot) is taken over. Readers
/// (<c>cat</c>, <c>kill $(cat PATH)</c>, <c>ufork ctl</c>) never see half a pid and are never locked out:
/// every version is a new file, written whole and locked before a link or rename puts it in place. A
/// path holding anything else (a directory, a symlink, a file that is not a pid) is refused, never
/// overwritten. Written again if deleted (checked every 30 s, as ufork does); removed on a clean exit if
/// it is still this arbiter's file.
/// </summary>
internal sealed class PidFile : IDisposable
{
    private const string What = "pidfile";
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(30);
    // Retries happen only when another claimer replaced the file under us, which it does once.
    private const int MaxAttempts = 10;
    private const int MaxTempNames = 100;
    private const int MaxPidBytes = 32;
    private const FilePermissions ReadableByAll =
        FilePermissions.S_IRUSR | FilePermissions.S_IWUSR | FilePermissions.S_IRGRP | FilePermissions.S_IROTH;

    private readonly Lock _guard = new();
    private int _fd; // the pidfile, open and locked; -1 once let go
    private Timer? _check;

    private PidFile(string path, int fd)
    {
        Path = path;
        _fd = fd;
    }

    public string Path { get; }

    /// <exception cref="ArbiterStartException">Another arbiter holds it, the path holds something else, or it cannot be written.</exception>
    public static PidFile Claim(string path)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = LockedFiles.OpenRegular(path, OpenFlags.O_RDWR, 0, What); // a write lock needs a writable fd
            if (existing < 0)
            {
                // link(2) fails if the path exists, so of two arbiters creating it at once exactly one gets it.
                var (fresh, temp) = CreateLocked(path);
                var linked = Syscall.link(temp, path) == 0;
                var error = Stdlib.GetLastError();
                Syscall.unlink(temp);
                if (linked)
                    return new PidFile(path, fresh);
                Syscall.close(fresh);
                if (error != Errno.EEXIST)
                    throw new ArbiterStartException($"cannot write pidfile {path}: {UnixMarshal.GetErrorDescription(error)}");
                continue; // another claimer made it first: its lock decides
            }
            try
            {
                var named = ReadPid(existing, path);
                if (!LockedFiles.TryLock(existing, path, What))
                {
                    if (LockedFiles.IsStillAt(existing, path))
                        throw new ArbiterStartException(named is { } pid
                            ? $"already running as pid {pid} (pidfile {path})"
                            : $"already running (pidfile {path} is locked)");
                    continue; // replaced meanwhile: lock the new one
                }
                if (!LockedFiles.IsStillAt(existing, path))
                    continue; // its holder removed it as it let go
                // Nobody holds it, so whoever wrote it is gone; a fresh file, locked before it appears,
                // takes its place, and a claimer still waiting on the old one finds it replaced.
                var (fresh, temp) = CreateLocked(path);
                if (Syscall.rename(temp, path) != 0)
                {
                    var error = Stdlib.GetLastError();
                    Syscall.unlink(temp);
                    Syscall.close(fresh);
                    throw new ArbiterStartException($"cannot write pidfile {path}: {UnixMarshal.GetErrorDescription(error)}");
                }
                return new PidFile(path, fresh);
            }
            finally
            {
                Syscall.close(existing);
            }
        }
        throw new ArbiterStartException($"cannot claim pidfile {path}: it keeps being replaced");
    }

    /// <summary>Starts the periodic check that writes the file again if someone deleted it.</summary>
    public void KeepWritten(IOutputSink log) =>
        _check = new Timer(_ => RewriteIfMissing(log), null, CheckInterval, CheckInterval);

    internal void RewriteIfMissing(IOutputSink log)
    {
        lock (_guard)
        {
            if (_fd < 0 || Syscall.lstat(Path, out _) == 0)
                return; // gone with us, or there (ours, or a replacement someone put there, which is theirs)
            try
            {
                var (fresh, temp) = CreateLocked(Path);
                var linked = Syscall.link(temp, Path) == 0;
                var error = Stdlib.GetLastError();
                Syscall.unlink(temp);
                if (!linked)
                {
                    Syscall.close(fresh);
                    log.WriteLine($"[ufork] warning: pidfile {Path} was deleted and cannot be written again: {UnixMarshal.GetErrorDescription(error)}");
                    return;
                }
                Syscall.close(_fd);
                _fd = fresh;
                log.WriteLine($"[ufork] warning: pidfile {Path} was deleted; wrote it again");
            }
            catch (ArbiterStartException e)
            {
                log.WriteLine($"[ufork] warning: pidfile {Path} was deleted and cannot be written again: {e.Message}");
            }
        }
    }

    /// <summary>The pid in the file; null when it is empty.</summary>
    /// <exception cref="ArbiterStartException">It holds something other than a pid, which is not ours to overwrite.</exception>
    private static unsafe int? ReadPid(int fd, string path)
    {
        var buffer = new byte[MaxPidBytes + 1];
        var filled = 0;
        fixed (byte* start = buffer)
        {
            while (filled < buffer.Length)
            {
                var read = Syscall.read(fd, start + filled, (ulong)(buffer.Length - filled));
                if (read < 0)
                {
                    if (Stdlib.GetLastError() == Errno.EINTR)
                        continue;
                    throw new ArbiterStartException($"cannot read pidfile {path}: {UnixMarshal.GetErrorDescription(Stdlib.GetLastError())}");
                }
                if (read == 0)
                    break;
                filled += (int)read;
            }
        }
        var text = Encoding.ASCII.GetString(buffer, 0, filled).Trim();
        if (text.Length == 0)
            return null;
        if (filled <= MaxPidBytes && text.All(char.IsAsciiDigit) && int.TryParse(text, out var pid) && pid > 0)
            return pid;
        throw new ArbiterStartException($"pidfile {path} holds something other than a pid; refusing to overwrite it");
    }

    /// <summary>
    /// A new file beside <paramref name="path"/> holding this process's pid, already locked: created with
    /// O_EXCL|O_NOFOLLOW, so a symlink or file planted at its name is skipped, never written through.
    /// </summary>
    private static unsafe (int Fd, string Temp) CreateLocked(string path)
    {
        for (var attempt = 0; attempt < MaxTempNames; attempt++)
        {
            var temp = attempt == 0 ? $"{path}.{Environment.ProcessId}.tmp" : $"{path}.{Environment.ProcessId}.{attempt}.tmp";
            var fd = Syscall.open(temp,
                OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, ReadableByAll);
            if (fd < 0)
            {
                var error = Stdlib.GetLastError();
                if (error == Errno.EEXIST)
                    continue; // planted, left by a killed arbiter of the same pid, or another thread's: not ours to touch
                throw new ArbiterStartException(error == Errno.ENOENT
                    ? $"cannot write pidfile {path}: {System.IO.Path.GetDirectoryName(path)} does not exist"
                    : $"cannot write pidfile {path}: {UnixMarshal.GetErrorDescription(error)}");
            }
            try
            {
                var line = Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
                fixed (byte* bytes = line)
                {
                    var written = Syscall.write(fd, bytes, (ulong)line.Length);
                    if (written != line.Length)
                        throw new ArbiterStartException($"cannot write pidfile {path}: " +
                                                        (written < 0 ? UnixMarshal.GetErrorDescription(Stdlib.GetLastError()) : "the disk is full"));
                }
                if (!LockedFiles.TryLock(fd, temp, What))
                    throw new ArbiterStartException($"cannot lock pidfile {path}: its new file {temp} is locked by another process");
                return (fd, temp);
            }
            catch
            {
                Syscall.close(fd);
                Syscall.unlink(temp);
                throw;
            }
        }
        throw new ArbiterStartException($"cannot write pidfile {path}: {MaxTempNames} temporary names beside it are taken");
    }

    /// <summary>Removes the file if it is still this arbiter's, then lets go of the lock.</summary>
    public void Dispose()
    {
        _check?.Dispose();
        lock (_guard)
        {
            if (_fd < 0)
                return;
            // Removed before it is unlocked, so that whoever gets the lock next sees it is gone and starts afresh.
            if (LockedFiles.IsStillAt(_fd, Path))
                Syscall.unlink(Path);
            Syscall.close(_fd);
            _fd = -1;
        }
    }
}
