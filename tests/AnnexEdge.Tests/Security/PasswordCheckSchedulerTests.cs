using System.Collections.Concurrent;
using System.Net;
using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class PasswordCheckSchedulerTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("192.0.2.66");
    private static readonly IPAddress User = IPAddress.Parse("198.51.100.7");
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>Checks that wait for the test's word, recording the order in which they ran.</summary>
    private sealed class Checks
    {
        private readonly ConcurrentDictionary<string, SemaphoreSlim> _release = new();

        public ConcurrentQueue<string> Started { get; } = new();

        public Func<string> Named(string name) => () =>
        {
            Started.Enqueue(name);
            _release.GetOrAdd(name, _ => new SemaphoreSlim(0)).Wait(Deadline);
            return name;
        };

        public void Finish(string name) => _release.GetOrAdd(name, _ => new SemaphoreSlim(0)).Release();

        public Task StartedAsync(int count) => Task.Run(async () =>
        {
            var until = DateTime.UtcNow + Deadline;
            while (Started.Count < count && DateTime.UtcNow < until)
            {
                await Task.Delay(5);
            }
        });
    }

    [Fact]
    public async Task A_freed_place_goes_to_the_waiting_addresses_in_turn_so_another_address_waits_one_check_not_the_whole_queue()
    {
        var scheduler = new PasswordCheckScheduler(1);
        var checks = new Checks();
        var ct = TestContext.Current.CancellationToken;
        var a1 = scheduler.RunAsync(Attacker, checks.Named("a1"), ct);
        await checks.StartedAsync(1);
        var a2 = scheduler.RunAsync(Attacker, checks.Named("a2"), ct);
        var a3 = scheduler.RunAsync(Attacker, checks.Named("a3"), ct);
        var u1 = scheduler.RunAsync(User, checks.Named("u1"), ct);

        foreach (var (name, started) in new[] { ("a1", 2), ("a2", 3), ("u1", 4), ("a3", 4) })
        {
            checks.Finish(name);
            await checks.StartedAsync(started);
        }

        await Task.WhenAll(a1, a2, a3, u1).WaitAsync(Deadline, ct);
        Assert.Equal(["a1", "a2", "u1", "a3"], checks.Started);
        Assert.Equal(0, scheduler.Running);
    }

    [Fact]
    public async Task At_most_the_configured_number_of_checks_run_at_once()
    {
        var scheduler = new PasswordCheckScheduler(2);
        var checks = new Checks();
        var ct = TestContext.Current.CancellationToken;
        var all = Enumerable.Range(0, 5).Select(i => scheduler.RunAsync(Attacker, checks.Named("c" + i), ct)).ToList();
        await checks.StartedAsync(2);

        Assert.Equal(2, scheduler.Running);
        Assert.Equal(2, checks.Started.Count);
        for (var i = 0; i < 5; i++)
        {
            checks.Finish("c" + i);
        }

        await Task.WhenAll(all).WaitAsync(Deadline, ct);
        Assert.Equal(5, checks.Started.Count);
        Assert.Equal(0, scheduler.Running);
    }

    [Fact]
    public async Task A_check_whose_client_went_away_while_waiting_never_runs_and_does_not_keep_its_place()
    {
        var scheduler = new PasswordCheckScheduler(1);
        var checks = new Checks();
        var ct = TestContext.Current.CancellationToken;
        var first = scheduler.RunAsync(Attacker, checks.Named("first"), ct);
        await checks.StartedAsync(1);
        using var gone = new CancellationTokenSource();
        var abandoned = scheduler.RunAsync(Attacker, checks.Named("abandoned"), gone.Token);
        var next = scheduler.RunAsync(User, checks.Named("next"), ct);

        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        checks.Finish("first");
        checks.Finish("next");
        await Task.WhenAll(first, next).WaitAsync(Deadline, ct);

        Assert.Equal(["first", "next"], checks.Started);
        Assert.Equal(0, scheduler.Running);
        Assert.Equal("again", await scheduler.RunAsync(User, () => "again", ct).WaitAsync(Deadline, ct));
    }
}
