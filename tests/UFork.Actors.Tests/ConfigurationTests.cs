using Akka.Actor;
using Akka.Configuration;
using UFork.Configuration;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

public sealed class ConfigurationTests
{
    [Fact]
    public void Defaults_come_from_reference_conf()
    {
        var settings = UForkSettings.Default;

        Assert.Equal(Math.Max(Environment.ProcessorCount - 1, 2), settings.Workers);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.ShutdownGrace);
        Assert.Equal(new RestartPolicy(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1), -1), settings.Restart);
        Assert.Equal(1L << 30, settings.WorkerMemoryLimit);
    }

    [Fact]
    public void A_file_overrides_the_defaults()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, "ufork { workers = 5, shutdown.grace = 3s, restart.max-retries = 4 }");

        var settings = UForkSettings.FromConfig(UForkConfig.LoadFile(file));

        Assert.Equal((5, TimeSpan.FromSeconds(3), 4), (settings.Workers, settings.ShutdownGrace, settings.Restart.MaxRetries));
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Restart.MaxBackoff);
    }

    [Theory]
    [InlineData("ufork.workers = many", "ufork.workers must be a positive integer or auto, not 'many'")]
    [InlineData("ufork.workers = 0", "ufork.workers must be a positive integer or auto, not '0'")]
    [InlineData("ufork.shutdown.grace = soon", "ufork.shutdown.grace must be a duration such as 500ms or 10s, not 'soon'")]
    [InlineData("ufork.restart.max-retries = -3", "ufork.restart.max-retries must be an integer, -1 for never, not '-3'")]
    public void A_value_of_the_wrong_type_is_named(string hocon, string message)
    {
        var error = Assert.Throws<UForkConfigException>(() => UForkSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_missing_or_broken_file_is_one_clear_error()
    {
        Assert.Equal("config file /nonexistent.conf does not exist",
            Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile("/nonexistent.conf")).Message);
        var broken = Path.GetTempFileName();
        File.WriteAllText(broken, "ufork { workers = ${undefined} }");
        Assert.StartsWith($"config file {broken} does not parse:",
            Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile(broken)).Message);
    }

    [Theory]
    [InlineData("ufork {\n  workers = 3\n", "line 1: '{' is never closed")]
    [InlineData("{", "line 1: '{' is never closed")]
    [InlineData("ufork { workers = 3 }\n}\nufork.backlog = 5", "line 2: '}' closes nothing")]
    [InlineData("ufork {\n  log.files = [1, 2 }\n}", "line 2: '}' closes the '[' of line 2")]
    [InlineData("ufork.log.file = \"out.log\nufork.workers = 2", "line 1: a quoted string is not closed on its line")]
    [InlineData("ufork { include file(\"more.conf\") }", "line 1: include takes a quoted file name")]
    public void A_file_that_HOCON_would_half_read_is_refused_with_its_line(string hocon, string problem)
    {
        using var directory = new TempDirectory();
        var file = directory.File("ufork.conf");
        File.WriteAllText(file, hocon);

        var error = Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile(file));

        Assert.StartsWith($"config file {file} {problem}", error.Message);
    }

    [Fact]
    public void Braces_in_strings_and_comments_do_not_count()
    {
        using var directory = new TempDirectory();
        var file = directory.File("ufork.conf");
        File.WriteAllText(file, """"
            # a comment with a { brace
            ufork { // and another }
              log.file = "a}b{.log"   # ]
              control = """c{
              }"""
              workers = 3
            }
            """");

        var settings = UForkSettings.FromConfig(UForkConfig.LoadFile(file));

        Assert.Equal((3, Path.GetFullPath("a}b{.log")), (settings.Workers, settings.Log.File));
    }

    [Theory]
    [InlineData("ufork.workerz = 3", "ufork.workerz is not a uFork setting; did you mean ufork.workers?")]
    [InlineData("ufrok { workers = 3 }", "ufrok is not a root that uFork knows; did you mean ufork?")]
    [InlineData("UFork.workers = 3", "UFork is not a root that uFork knows; did you mean ufork?")]
    [InlineData("ufork.min-backoff = 1s", "ufork.min-backoff is not a uFork setting; did you mean ufork.restart.min-backoff?")]
    [InlineData("ufork.restart.interval = 1s", "ufork.restart.interval is not a uFork setting; did you mean ufork.heartbeat.interval?")]
    [InlineData("ufork.restrat { min-backoff = 1s }", "ufork.restrat is not a uFork setting; did you mean ufork.restart?")]
    [InlineData("ufork.frobnication = 1", "ufork.frobnication is not a uFork setting (reference.conf lists them all)")]
    [InlineData("ufork = 5", "ufork must be a section, ufork { ... }, not '5'")]
    [InlineData("ufork.restart = 5", "ufork.restart is a section, ufork.restart { ... }, not a value")]
    [InlineData("ufork.workers.count = 3", "ufork.workers is a setting, not a section")]
    [InlineData("ufork.workers = [1, 2]", "ufork.workers takes one value, not a list")]
    public void An_unknown_or_misplaced_key_is_refused_with_the_closest_known_one(string hocon, string message)
    {
        var error = Assert.Throws<UForkConfigException>(() => UForkSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Roots_other_than_ufork_are_left_to_their_owners()
    {
        var settings = UForkSettings.FromConfig(ConfigurationFactory.ParseString("akka.loglevel = DEBUG\nmyapp.port = 80\nufork.workers = 3"));

        Assert.Equal(3, settings.Workers);
    }

    [Fact]
    public void An_ActorSystems_config_is_read_and_its_ufork_section_checked()
    {
        using var good = ActorSystem.Create("good", ConfigurationFactory.ParseString("ufork.workers = 3").WithFallback(UForkConfig.Defaults));
        using var bad = ActorSystem.Create("bad", ConfigurationFactory.ParseString("ufork.heartbeat.intervall = 1s"));

        Assert.Equal(3, UForkSettings.FromConfig(good.Settings.Config).Workers);
        Assert.Equal("ufork.heartbeat.intervall is not a uFork setting; did you mean ufork.heartbeat.interval?",
            Assert.Throws<UForkConfigException>(() => UForkSettings.FromConfig(bad.Settings.Config)).Message);
    }

    [Theory]
    [InlineData("ufork.restart { min-backoff = 40s, max-backoff = 30s }", "ufork.restart.min-backoff (40s) must be at most ufork.restart.max-backoff (30s)")]
    [InlineData("ufork.restart.min-backoff = 1m", "ufork.restart.min-backoff (1m) must be at most ufork.restart.max-backoff (30s)")]
    [InlineData("ufork.heartbeat.interval = 0", "ufork.heartbeat.interval must be from 10ms to 1d, not '0'")]
    [InlineData("ufork.heartbeat.interval = 60d", "ufork.heartbeat.interval must be from 10ms to 1d, not '60d'")]
    [InlineData("ufork.heartbeat { interval = 2s, timeout = 2s }", "ufork.heartbeat.timeout (2s) must be longer than ufork.heartbeat.interval (2s)")]
    [InlineData("ufork.heartbeat { interval = 2s, start-timeout = 1s }", "ufork.heartbeat.start-timeout (1s) must be at least ufork.heartbeat.interval (2s)")]
    [InlineData("ufork.shutdown.grace = 10", "ufork.shutdown.grace = 10 has no unit: write 10s or 10ms")]
    [InlineData("ufork.worker.start-seconds = 1", "ufork.worker.start-seconds = 1 has no unit: write 1s or 1ms")]
    [InlineData("ufork.restart.reset-after = 25d", "ufork.restart.reset-after must be from 0s to 1d, not '25d'")]
    [InlineData("ufork { workers = 2000 }", "ufork.workers (2000) must be at most ufork.max-workers (1024)")]
    [InlineData("ufork { workers = 3, max-workers = 2 }", "ufork.workers (3) must be at most ufork.max-workers (2)")]
    [InlineData("ufork.max-workers = 0", "ufork.max-workers must be a positive integer, not '0'")]
    [InlineData("ufork.boot.max-failures = none", "ufork.boot.max-failures must be a positive integer, not 'none'")]
    [InlineData("ufork.subreaper = maybe", "ufork.subreaper must be on or off, not 'maybe'")]
    public void Settings_that_contradict_each_other_or_leave_sane_bounds_are_named(string hocon, string message)
    {
        var error = Assert.Throws<UForkConfigException>(() => UForkSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Auto_workers_stay_within_max_workers_and_zero_needs_no_unit()
    {
        var settings = UForkSettings.FromConfig(ConfigurationFactory.ParseString("ufork { workers = auto, max-workers = 1, shutdown.grace = 0 }"));

        Assert.Equal((1, TimeSpan.Zero), (settings.Workers, settings.ShutdownGrace));
    }

    [Fact]
    public void An_include_is_read_from_the_files_directory_and_a_missing_one_is_named()
    {
        using var directory = new TempDirectory();
        var main = directory.File("main.conf");
        File.WriteAllText(directory.File("workers.conf"), "workers = 4");
        File.WriteAllText(main, "ufork { include \"workers.conf\" }");
        var missing = directory.File("broken.conf");
        File.WriteAllText(missing, "include \"nope.conf\"");

        Assert.Equal(4, UForkSettings.FromConfig(UForkConfig.LoadFile(main)).Workers);
        Assert.Equal($"config file {missing}: include \"nope.conf\": {directory.File("nope.conf")} does not exist",
            Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile(missing)).Message);
    }

    [Fact]
    public void An_include_cycle_is_named()
    {
        using var directory = new TempDirectory();
        var first = directory.File("first.conf");
        File.WriteAllText(first, "include \"second.conf\"");
        File.WriteAllText(directory.File("second.conf"), "include \"first.conf\"");

        var error = Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile(first));

        Assert.Equal($"config file {directory.File("second.conf")}: include \"first.conf\" makes a cycle: {first} is already being read", error.Message);
    }

    [Fact]
    public void A_value_error_from_a_file_names_the_file()
    {
        using var directory = new TempDirectory();
        var file = directory.File("ufork.conf");
        File.WriteAllText(file, "ufork.workerz = 3");

        Assert.Equal($"config file {file}: ufork.workerz is not a uFork setting; did you mean ufork.workers?",
            Assert.Throws<UForkConfigException>(() => UForkConfig.LoadFile(file)).Message);
    }

    [Fact]
    public void The_restart_policy_doubles_from_min_to_max_and_resets_after_stability()
    {
        var policy = new RestartPolicy(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1), -1);

        Assert.Equal([0, 100, 200, 400, 800], Enumerable.Range(1, 5).Select(n => policy.DelayBefore(n).TotalMilliseconds));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.DelayBefore(20));
        Assert.Equal(4, policy.CountFailure(3, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, policy.CountFailure(3, TimeSpan.FromMinutes(2)));
        Assert.False(policy.GivesUp(1000));
        Assert.True((policy with { MaxRetries = 3 }).GivesUp(4));
    }
}
