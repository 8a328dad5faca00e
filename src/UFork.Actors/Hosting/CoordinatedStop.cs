using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using UFork.Configuration;
using UFork.Supervision;

namespace UFork.Hosting;

/// <summary>
/// Makes the end of the ActorSystem an arbiter lives in (ActorSystem.Terminate, a host stopping through
/// Akka.Hosting, the process exiting) its graceful stop: a CoordinatedShutdown task sends the arbiter
/// <see cref="Shutdown"/> and waits until it has stopped, so that the parent pre-stop hook runs and the
/// workers get SIGTERM and the grace period before anything kills them. Without it the system would
/// stop the arbiter's actors outright, and they SIGKILL what they own.
/// </summary>
internal static class CoordinatedStop
{
    /// <summary>Before the services stop taking requests: the workers are the service.</summary>
    public const string Phase = CoordinatedShutdown.PhaseBeforeServiceUnbind;

    // Past the grace period, the arbiter still reaps the SIGKILLed and runs the hook first.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);

    /// <summary>How long <see cref="Phase"/> must be allowed to take for an arbiter with these settings.</summary>
    public static TimeSpan PhaseTimeout(UForkSettings settings) => settings.ShutdownGrace + Margin;

    /// <summary>
    /// HOCON that lets <see cref="Phase"/> take <see cref="PhaseTimeout"/>, or what <paramref name="config"/>
    /// already allows if that is longer.
    /// </summary>
    public static Config PhaseTimeoutConfig(UForkSettings settings, Config config)
    {
        var key = $"akka.coordinated-shutdown.phases.{Phase}.timeout";
        var timeout = PhaseTimeout(settings);
        if (config.HasPath(key) && config.GetTimeSpan(key) > timeout)
            timeout = config.GetTimeSpan(key);
        return ConfigurationFactory.ParseString($"{key} = {(long)Math.Ceiling(timeout.TotalMilliseconds)}ms");
    }

    /// <summary>Adds the task; warns when the system's configuration cuts the phase shorter than the grace period needs.</summary>
    public static void Register(ActorSystem system, IActorRef arbiter, Task stopped, UForkSettings settings)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        var allowed = shutdown.Timeout(Phase);
        if (allowed < PhaseTimeout(settings))
            system.Log.Warning(
                "akka.coordinated-shutdown.phases.{0}.timeout is {1}, less than ufork.shutdown.grace ({2}) + {3}: " +
                "workers slow to exit may be SIGKILLed before their grace period ends when the system stops",
                Phase, allowed, settings.ShutdownGrace, Margin);
        shutdown.AddTask(Phase, $"ufork-stop-{arbiter.Path.Name}", async () =>
        {
            if (!stopped.IsCompleted)
                arbiter.Tell(Shutdown.Instance, ActorRefs.Nobody);
            await stopped;
            return Done.Instance;
        });
    }
}
