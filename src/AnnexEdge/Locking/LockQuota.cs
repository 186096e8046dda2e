using AnnexEdge.Configuration;

namespace AnnexEdge.Locking;

/// <summary>Why a lock slot was refused (<see cref="LockRefusal.None"/>: it was not).</summary>
/// <remarks>Ordered from the backend's state to the client's own: the last is the most specific reason.</remarks>
internal enum LockRefusal
{
    None,

    /// <summary>The backend holds its <c>MaxLocks</c>.</summary>
    BackendBudget,

    /// <summary>An anonymous client, and the backend's free slots are reserved for users.</summary>
    ReservedForUsers,

    /// <summary>The client holds its share of this backend's slots.</summary>
    ShareOfSlots,

    /// <summary>The client holds <c>MaxLocksPerClient</c> locks over all backends.</summary>
    ClientQuota,
}

/// <summary>What a backend and a client hold now, as the quota reads it.</summary>
internal readonly record struct LockHoldings(int OnBackend, int AnonymousOnBackend, int ClientOnBackend, int ClientTotal);

/// <summary>
/// Who may take one more of a backend's lock slots: the backend's budget, the slots reserved for users, one client's
/// share of the backend, and one client's locks over all backends. A pure decision; <see cref="LockLedger"/> counts.
/// </summary>
internal sealed record LockQuota(int MaxPerClient, double MaxShareOfSlots, int ReservedForUsers)
{
    /// <summary>The quota of the options; slots reserved for users only mean something when there are users.</summary>
    public static LockQuota From(AnnexEdgeOptions options) => new(
        options.Locking.MaxLocksPerClient,
        options.Locking.MaxShareOfSlots,
        options.Users.Count > 0 ? options.Locking.ReservedForUsers : 0);

    /// <summary>
    /// Most of a backend's slots one client may hold: its share rounded down, but at least one, or a backend with
    /// few slots would grant no lock at all (with one slot, the share cannot split it; see docs/locking.md).
    /// </summary>
    public int MaxPerClientOnBackend(int budget) => Math.Min(budget, Math.Max(1, (int)Math.Floor(MaxShareOfSlots * budget)));

    /// <summary>Slots of a backend that anonymous clients together may hold.</summary>
    public int AnonymousSlots(int budget) => Math.Max(0, budget - ReservedForUsers);

    public LockRefusal Decide(int budget, LockHoldings held, LockPrincipal client)
    {
        if (held.OnBackend >= budget)
        {
            return LockRefusal.BackendBudget;
        }

        if (!client.IsUser && held.AnonymousOnBackend >= AnonymousSlots(budget))
        {
            return LockRefusal.ReservedForUsers;
        }

        if (held.ClientOnBackend >= MaxPerClientOnBackend(budget))
        {
            return LockRefusal.ShareOfSlots;
        }

        return held.ClientTotal >= MaxPerClient ? LockRefusal.ClientQuota : LockRefusal.None;
    }
}
