using System.Net;
using AnnexEdge.Locking;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Locking;

public sealed class LockLedgerTests
{
    private const string Repo = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Key = "SHA256E-s100--0000000000000000000000000000000000000000000000000000000000000000";
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private static readonly LockPrincipal C1 = LockPrincipal.Address(IPAddress.Parse("192.0.2.1"));
    private static readonly LockPrincipal C2 = LockPrincipal.Address(IPAddress.Parse("192.0.2.2"));
    private static readonly LockPrincipal C3 = LockPrincipal.Address(IPAddress.Parse("192.0.2.3"));

    /// <summary>A ledger that only counts the backend's budget and the per-client quota.</summary>
    private static LockLedger Ledger(int maxPerClient = 4, TimeProvider? time = null) =>
        new(new LockQuota(maxPerClient, MaxShareOfSlots: 1, ReservedForUsers: 0), Lifetime, time ?? new FakeTimeProvider());

    private static LockSlot Grant(LockLedger ledger, string backend, LockPrincipal client, string lockId, int budget = 5)
    {
        Assert.Equal(LockRefusal.None, ledger.TryReserve(backend, budget, client, Key, out var slot));
        slot!.Granted(lockId);
        return slot;
    }

    private static LockToken TokenOf(LockSlot slot) =>
        new(Repo, slot.BackendId, slot.BackendLockId!, slot.Key, slot.Client, slot.IssuedAt);

    [Fact]
    public void Backend_budget_refuses_the_slot_after_the_last_free_one()
    {
        var ledger = Ledger(maxPerClient: 10);
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 2, C1, Key, out _));
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 2, C2, Key, out _));
        Assert.Equal(LockRefusal.BackendBudget, ledger.TryReserve("b1", 2, C3, Key, out var refused));
        Assert.Null(refused);
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b2", 2, C3, Key, out _));
    }

    [Fact]
    public void Client_quota_refuses_only_that_client()
    {
        var ledger = Ledger(maxPerClient: 1);
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 5, C1, Key, out _));
        Assert.Equal(LockRefusal.ClientQuota, ledger.TryReserve("b2", 5, C1, Key, out _));
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 5, C2, Key, out _));
    }

    [Fact]
    public void Fresh_clientuuids_from_one_address_are_one_client()
    {
        // The clientuuid is no part of who holds a lock: the address is, whatever the port or the request.
        var ledger = new LockLedger(new LockQuota(4, 0.5, 1), Lifetime, new FakeTimeProvider());
        var address = LockPrincipal.Address(IPAddress.Parse("2001:db8:1:2::10"));
        var sameSite = LockPrincipal.Address(IPAddress.Parse("2001:db8:1:2:ffff::1"));
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 3, address, Key, out _));
        Assert.Equal(LockRefusal.ShareOfSlots, ledger.TryReserve("b1", 3, sameSite, Key, out _));
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 3, C2, Key, out _));
        Assert.Equal(LockRefusal.ReservedForUsers, ledger.TryReserve("b1", 3, C3, Key, out _));
        Assert.Equal(LockRefusal.None, ledger.TryReserve("b1", 3, LockPrincipal.User("alice"), Key, out _));
    }

    [Fact]
    public void Check_tells_what_reserving_would()
    {
        var ledger = new LockLedger(new LockQuota(4, 0.5, 1), Lifetime, new FakeTimeProvider());
        Assert.Equal(LockRefusal.ReservedForUsers, ledger.Check("b1", 1, C1));
        Assert.Equal(LockRefusal.None, ledger.Check("b1", 1, LockPrincipal.User("alice")));
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Budget_of_zero_never_grants()
    {
        var ledger = Ledger();
        Assert.Equal(LockRefusal.BackendBudget, ledger.TryReserve("b1", 0, C1, Key, out _));
        Assert.Equal(LockRefusal.BackendBudget, ledger.Check("b1", 0, LockPrincipal.User("alice")));
    }

    [Fact]
    public void Slot_not_granted_is_freed_when_disposed()
    {
        var ledger = Ledger();
        ledger.TryReserve("b1", 1, C1, Key, out var slot);
        Assert.Equal(LockRefusal.BackendBudget, ledger.Check("b1", 1, C2));
        slot!.Dispose();
        Assert.Equal(LockRefusal.None, ledger.Check("b1", 1, C2));
        slot.Dispose();
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Granted_lock_holds_its_slot_for_the_whole_lifetime_and_not_a_moment_longer()
    {
        var time = new FakeTimeProvider();
        var ledger = Ledger(time: time);
        Grant(ledger, "b1", C1, "lock-1", budget: 1);
        time.Advance(Lifetime - TimeSpan.FromSeconds(1));
        Assert.Equal(1, ledger.HeldBy("b1"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Kept_lock_outlives_its_lifetime_until_the_keeplocked_ends()
    {
        var time = new FakeTimeProvider();
        var ledger = Ledger(time: time);
        var slot = Grant(ledger, "b1", C1, "lock-1", budget: 1);
        Assert.Equal(KeepClaim.Kept, ledger.TryKeep(TokenOf(slot), 1, out var kept));
        Assert.Same(slot, kept);
        time.Advance(Lifetime * 3);
        Assert.Equal(1, ledger.HeldBy("b1"));
        kept!.Dispose();
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Token_is_refused_once_the_lock_lifetime_has_passed()
    {
        var time = new FakeTimeProvider();
        var ledger = Ledger(time: time);
        var token = TokenOf(Grant(ledger, "b1", C1, "lock-1"));
        time.Advance(Lifetime);
        Assert.Equal(KeepClaim.Expired, ledger.TryKeep(token, 5, out var slot));
        Assert.Null(slot);
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Token_just_inside_its_lifetime_opens_its_relay()
    {
        var time = new FakeTimeProvider();
        var ledger = Ledger(time: time);
        var token = TokenOf(Grant(ledger, "b1", C1, "lock-1"));
        time.Advance(Lifetime - TimeSpan.FromMilliseconds(1));
        Assert.Equal(KeepClaim.Kept, ledger.TryKeep(token, 5, out _));
    }

    [Fact]
    public void Token_read_back_from_the_codec_names_the_lock_it_was_issued_for()
    {
        // Any time, not only whole milliseconds: the token carries milliseconds.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero).AddTicks(1234567));
        var ledger = Ledger(time: time);
        var codec = new LockTokenCodec(new byte[32]);
        var issued = codec.Issue(TokenOf(Grant(ledger, "b1", C1, "lock-1")));
        Assert.Equal(LockTokenRead.Valid, codec.TryRead(issued, Repo, out var token));
        Assert.Equal(KeepClaim.Kept, ledger.TryKeep(token!, 5, out _));
    }

    [Fact]
    public void Second_keeplocked_for_a_lock_is_refused_while_the_first_is_relayed_and_after_it_ended()
    {
        var ledger = Ledger();
        var token = TokenOf(Grant(ledger, "b1", C1, "lock-1"));
        Assert.Equal(KeepClaim.Kept, ledger.TryKeep(token, 5, out var first));
        Assert.Equal(KeepClaim.AlreadyRelayed, ledger.TryKeep(token, 5, out var concurrent));
        Assert.Null(concurrent);
        first!.Dispose();
        Assert.Equal(KeepClaim.AlreadyRelayed, ledger.TryKeep(token, 5, out _));
        Assert.Equal(0, ledger.HeldBy("b1"));
    }

    [Fact]
    public void Relayed_locks_are_forgotten_once_their_token_has_expired()
    {
        var time = new FakeTimeProvider();
        var ledger = Ledger(time: time);
        var token = TokenOf(Grant(ledger, "b1", C1, "lock-1"));
        ledger.TryKeep(token, 5, out var slot);
        slot!.Dispose();
        time.Advance(Lifetime);
        Assert.Equal(KeepClaim.Expired, ledger.TryKeep(token, 5, out _));
    }

    [Fact]
    public void Token_naming_another_key_or_client_than_the_held_lock_is_refused_and_leaves_the_lock_to_its_own()
    {
        var ledger = Ledger();
        var token = TokenOf(Grant(ledger, "b1", C1, "lock-1"));
        Assert.Equal(KeepClaim.OtherLock, ledger.TryKeep(token with { Key = "SHA256E-s1--00" }, 5, out _));
        Assert.Equal(KeepClaim.OtherLock, ledger.TryKeep(token with { Principal = C2 }, 5, out _));
        Assert.Equal(KeepClaim.OtherLock, ledger.TryKeep(token with { IssuedAt = token.IssuedAt.AddSeconds(-1) }, 5, out _));
        Assert.Equal(KeepClaim.Kept, ledger.TryKeep(token, 5, out _));
    }

    [Fact]
    public void Lock_granted_through_another_edge_is_taken_in_counted_and_relayed_once()
    {
        var time = new FakeTimeProvider();
        var other = Ledger(time: time);
        var token = TokenOf(Grant(other, "b1", C1, "lock-1"));

        var ledger = Ledger(time: time);
        Assert.Equal(KeepClaim.Kept, ledger.TryKeep(token, 2, out var slot));
        Assert.Equal(1, ledger.HeldBy("b1"));
        Assert.Equal(KeepClaim.AlreadyRelayed, ledger.TryKeep(token, 2, out _));
        slot!.Dispose();
        Assert.Equal(0, ledger.HeldBy("b1"));
        Assert.Equal(KeepClaim.AlreadyRelayed, ledger.TryKeep(token, 2, out _));
    }

    [Fact]
    public void Lock_granted_through_another_edge_is_not_taken_in_beyond_the_budget()
    {
        var time = new FakeTimeProvider();
        var other = Ledger(time: time);
        var token = TokenOf(Grant(other, "b1", C1, "lock-1"));

        var ledger = Ledger(time: time);
        Grant(ledger, "b1", C2, "lock-2", budget: 1);
        Assert.Equal(KeepClaim.NoRoom, ledger.TryKeep(token, 1, out var slot));
        Assert.Null(slot);
        Assert.Equal(1, ledger.HeldBy("b1"));
    }

    [Fact]
    public async Task Concurrent_reservations_never_exceed_the_budget_and_all_release()
    {
        var ledger = Ledger(maxPerClient: 1000);
        var granted = 0;
        var peak = 0;
        var tasks = Enumerable.Range(0, 16).Select(t => Task.Run(() =>
        {
            var client = LockPrincipal.User($"c{t}");
            for (var i = 0; i < 2000; i++)
            {
                if (ledger.TryReserve("b1", 3, client, Key, out var slot) == LockRefusal.None)
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

    [Fact]
    public async Task Concurrent_keeplocked_for_one_lock_relays_exactly_one()
    {
        var ledger = Ledger();
        var token = TokenOf(Grant(ledger, "b1", C1, "lock-1"));
        var claims = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(
            () => ledger.TryKeep(token, 5, out LockSlot? _), TestContext.Current.CancellationToken)));
        Assert.Single(claims, c => c == KeepClaim.Kept);
        Assert.All(claims.Where(c => c != KeepClaim.Kept), c => Assert.Equal(KeepClaim.AlreadyRelayed, c));
    }
}
