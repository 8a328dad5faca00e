using System.Runtime.InteropServices;
using Mono.Unix.Native;

namespace UFork.Spawning;

/// <summary>
/// Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER; a container's PID 1
/// is one already), and reaps those orphans when they die. An orphan is reparented to the main thread of
/// the process (the kernel picks the first live thread of the group), so only that thread's children are
/// looked at; the reactor's own children are its spawning thread's, and a child whose process group is
/// the arbiter's own is left alone: System.Diagnostics.Process reaps its children itself and fails the
/// process fast if another reaped one first. Orphans of workers are in a worker's group or a group of
/// their own.
/// </summary>
internal sealed class Subreaper
{
    private PosixSignalRegistration? _childExits;

    public bool IsOn => _childExits is not null;

    /// <summary>Once: asks the kernel for the orphans, and calls <paramref name="onChildExit"/> on each SIGCHLD.</summary>
    /// <exception cref="IOException">The kernel said no.</exception>
    public void Enable(Action onChildExit)
    {
        if (IsOn)
            return;
        if (Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            throw new IOException($"prctl(PR_SET_CHILD_SUBREAPER): {PosixError.DescribeLast()}");
        // .NET's own SIGCHLD handling (Process reaping) runs first and stays as it is: not cancelled.
        _childExits = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => onChildExit());
    }

    /// <summary>Reaps every dead orphan; returns their pids.</summary>
    public static List<int> ReapOrphans(Func<int, bool> isOurs)
    {
        var reaped = new List<int>();
        var ownGroup = Syscall.getpgrp();
        foreach (var pid in ChildrenOfMainThread())
        {
            if (isOurs(pid) || ReadStat(pid) is not { State: 'Z' } stat || stat.Group == ownGroup)
                continue;
            if (Syscall.waitpid(pid, out _, WaitOptions.WNOHANG) == pid)
                reaped.Add(pid);
        }
        return reaped;
    }

    private static IEnumerable<int> ChildrenOfMainThread()
    {
        try
        {
            var children = File.ReadAllText($"/proc/self/task/{Environment.ProcessId}/children");
            return children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static (char State, int Group)? ReadStat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[2])); // state, ppid, pgrp
        }
        catch (IOException)
        {
            return null;
        }
    }
}
