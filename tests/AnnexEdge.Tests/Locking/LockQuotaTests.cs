using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Locking;

namespace AnnexEdge.Tests.Locking;

public sealed class LockQuotaTests
{
    private static readonly LockPrincipal Anonymous = LockPrincipal.Address(IPAddress.Parse("192.0.2.1"));
    private static readonly LockPrincipal Alice = LockPrincipal.User("alice");
    private static readonly LockQuota Defaults = LockQuota.From(WithUsers());

    private static AnnexEdgeOptions WithUsers() => new() { Users = [new UserOptions { Name = "alice" }] };

    [Theory]
    [InlineData(0.5, 1, 1)]
    [InlineData(0.5, 2, 1)]
    [InlineData(0.5, 3, 1)]
    [InlineData(0.5, 7, 3)]
    [InlineData(0.1, 3, 1)]
    [InlineData(1.0, 3, 3)]
    [InlineData(0.5, 0, 0)]
    public void A_client_holds_its_share_of_a_backend_rounded_down_but_at_least_one_slot(double share, int budget, int expected)
    {
        Assert.Equal(expected, new LockQuota(100, share, 0).MaxPerClientOnBackend(budget));
    }

    [Fact]
    public void Client_at_its_share_of_a_backend_is_refused_there_while_others_are_not()
    {
        var quota = new LockQuota(MaxPerClient: 4, MaxShareOfSlots: 0.5, ReservedForUsers: 0);
        var held = new LockHoldings(OnBackend: 3, AnonymousOnBackend: 3, ClientOnBackend: 3, ClientTotal: 3);
        Assert.Equal(LockRefusal.ShareOfSlots, quota.Decide(7, held, Anonymous));
        Assert.Equal(LockRefusal.None, quota.Decide(7, held with { ClientOnBackend = 0, ClientTotal = 0 }, Anonymous));
    }

    [Fact]
    public void Reserved_slots_go_to_users_only()
    {
        var quota = new LockQuota(MaxPerClient: 4, MaxShareOfSlots: 0.5, ReservedForUsers: 1);
        var twoAnonymousHeld = new LockHoldings(OnBackend: 2, AnonymousOnBackend: 2, ClientOnBackend: 0, ClientTotal: 0);
        Assert.Equal(LockRefusal.ReservedForUsers, quota.Decide(3, twoAnonymousHeld, Anonymous));
        Assert.Equal(LockRefusal.None, quota.Decide(3, twoAnonymousHeld, Alice));
    }

    [Fact]
    public void With_one_slot_and_users_configured_anonymous_clients_never_take_it()
    {
        Assert.Equal(0, Defaults.AnonymousSlots(1));
        Assert.Equal(LockRefusal.ReservedForUsers, Defaults.Decide(1, default, Anonymous));
        Assert.Equal(LockRefusal.None, Defaults.Decide(1, default, Alice));
    }

    [Fact]
    public void Without_users_nothing_is_reserved()
    {
        var quota = LockQuota.From(new AnnexEdgeOptions());
        Assert.Equal(0, quota.ReservedForUsers);
        Assert.Equal(LockRefusal.None, quota.Decide(1, default, Anonymous));
    }

    [Fact]
    public void Defaults_are_four_per_client_half_a_backend_and_one_slot_reserved()
    {
        Assert.Equal(new LockQuota(4, 0.5, 1), Defaults);
    }

    [Fact]
    public void Per_client_quota_counts_every_backend()
    {
        var quota = new LockQuota(MaxPerClient: 2, MaxShareOfSlots: 1, ReservedForUsers: 0);
        Assert.Equal(LockRefusal.ClientQuota, quota.Decide(3, new LockHoldings(0, 0, 0, ClientTotal: 2), Alice));
        Assert.Equal(LockRefusal.None, quota.Decide(3, new LockHoldings(0, 0, 0, ClientTotal: 1), Alice));
    }

    [Fact]
    public void A_full_backend_is_the_first_reason()
    {
        var quota = new LockQuota(MaxPerClient: 0, MaxShareOfSlots: 0.5, ReservedForUsers: 1);
        Assert.Equal(LockRefusal.BackendBudget, quota.Decide(1, new LockHoldings(1, 1, 1, 1), Anonymous));
    }
}
