using AnnexEdge.Locking;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Locking;

public sealed class LockLedgerTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    [Fact]
    public void Backend_budget_refuses_the_slot_after_the_last_free_one()
    {
        var ledger = new LockLedger(maxPerClient: 10, Lifetime, new FakeTimeProvider());
        Assert.Equal(LockLedger.Refusal.None, ledger.TryReserve("b1", 2, "c1", out _));
        Assert.Equal(LockLedger.Refusal.None, ledger.TryReserve("b1", 2, "c2", out _));
        Assert.Equal(LockLedger.Refusal.BackendBudget, ledger.TryReserve("b1", 2, "c3", out var refused));
        Assert.Null(refused);
        Assert.Equal(LockLedger.Refusal.None, ledger.TryReserve("b2", 2, "c3", out _));
    }

    [Fact]
    public void Client_quota_refuses_only_that_client()
    {
        var ledger = new LockLedger(maxPerClient: 1, Lifetime, new FakeTimeProvider());
        Assert.Equal(LockLedger.Refusal.None, ledger.TryReserve("b1", 5, "greedy", out _));
        Assert.Equal(LockLedger.Refusal.ClientQuota, ledger.TryReserve("b2", 5, "greedy", out _));
        Assert.Equal(LockLedger.Refusal.None, ledger.TryReserve("b1", 5, "other", out _));
    }

    [Fact]
    public void Budget_of_zero_never_grants()
    {
        var ledger = new LockLedger(maxPerClient: 4, Lifetime, new FakeTimeProvider());
        Assert.Equal(LockLedger.Refusal.BackendBudget, ledger.TryReserve("b1", 0, "c", out _));
        Assert.False(ledger.HasRoom("b1", 0));
    }

    [Fact]
    public void Slot_not_granted_is_freed_when_disposed()
    {
        var ledger = new LockLedger(maxPerClient: 4, Lifetime, new FakeTimeProvider());
        ledger.TryReserve("b1", 1, "c", out var slot);
        Assert.False(ledger.HasRoom("b1", 1));
        slot!.Dispose();
        Assert.True(ledger.HasRoom("b1", 1));
        slot.Dispose();
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Granted_lock_holds_its_slot_for_the_whole_lifetime_and_not_a_moment_longer()
    {
        var time = new FakeTimeProvider();
        var ledger = new LockLedger(maxPerClient: 4, Lifetime, time);
        ledger.TryReserve("b1", 1, "c", out var slot);
        slot!.Granted("lock-1");
        time.Advance(Lifetime - TimeSpan.FromSeconds(1));
        Assert.False(ledger.HasRoom("b1", 1));
        Assert.Same(slot, ledger.Find("b1", "lock-1"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(ledger.HasRoom("b1", 1));
        Assert.Null(ledger.Find("b1", "lock-1"));
    }

    [Fact]
    public void Kept_lock_outlives_its_lifetime_until_the_keeplocked_ends()
    {
        var time = new FakeTimeProvider();
        var ledger = new LockLedger(maxPerClient: 4, Lifetime, time);
        ledger.TryReserve("b1", 1, "c", out var slot);
        slot!.Granted("lock-1");
        ledger.Find("b1", "lock-1")!.SetKept(true);
        time.Advance(Lifetime * 3);
        Assert.False(ledger.HasRoom("b1", 1));
        slot.Dispose();
        Assert.True(ledger.HasRoom("b1", 1));
    }

    [Fact]
    public void Lookup_needs_the_backend_and_its_lockid()
    {
        var ledger = new LockLedger(maxPerClient: 4, Lifetime, new FakeTimeProvider());
        ledger.TryReserve("b1", 1, "c", out var slot);
        slot!.Granted("lock-1");
        Assert.Null(ledger.Find("b2", "lock-1"));
        Assert.Null(ledger.Find("b1", "lock-2"));
    }

    [Fact]
    public async Task Concurrent_reservations_never_exceed_the_budget_and_all_release()
    {
        var ledger = new LockLedger(maxPerClient: 1000, Lifetime, new FakeTimeProvider());
        var granted = 0;
        var peak = 0;
        var tasks = Enumerable.Range(0, 16).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                if (ledger.TryReserve("b1", 3, $"c{t}", out var slot) == LockLedger.Refusal.None)
                {
                    var now = Interlocked.Increment(ref granted);
                    int seen;
                    do
                    {
                        seen = Volatile.Read(ref peak);
                    }
                    while (now > seen && Interlocked.CompareExchange(ref peak, now, seen) != seen);

                    Interlocked.Decrement(ref granted);
                    slot!.Dispose();
                }
            }
        }, TestContext.Current.CancellationToken));
        await Task.WhenAll(tasks);
        Assert.InRange(peak, 1, 3);
        Assert.Equal(0, ledger.HeldBy("b1"));
    }
}
