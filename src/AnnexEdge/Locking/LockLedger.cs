using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Locking;

/// <summary>
/// The edge's record of the locks its backends hold for clients, and the accounting that keeps a backend from
/// being wedged: at most <c>MaxLocks</c> per backend and <c>MaxLocksPerClient</c> per client. A slot is taken
/// before <c>lockcontent</c> is forwarded and kept while the backend holds the lock: until the client's
/// <c>keeplocked</c> ends, or the protocol's lock lifetime has passed without one (never earlier).
/// </summary>
internal sealed class LockLedger
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;
    private readonly int _maxPerClient;
    private readonly List<LockSlot> _slots = [];

    public LockLedger(IOptions<AnnexEdgeOptions> options, TimeProvider time)
        : this(options.Value.Locking.MaxLocksPerClient, options.Value.Locking.LockLifetime, time)
    {
    }

    public LockLedger(int maxPerClient, TimeSpan lifetime, TimeProvider time)
    {
        _maxPerClient = maxPerClient;
        _lifetime = lifetime;
        _time = time;
    }

    public enum Refusal
    {
        None,
        BackendBudget,
        ClientQuota,
    }

    /// <summary>Takes a slot for a lock about to be requested from <paramref name="backendId"/> for <paramref name="client"/>.</summary>
    public Refusal TryReserve(string backendId, int backendBudget, string client, out LockSlot? slot)
    {
        lock (_gate)
        {
            Sweep();
            slot = null;
            if (_slots.Count(s => s.BackendId == backendId) >= backendBudget)
            {
                return Refusal.BackendBudget;
            }

            if (_slots.Count(s => s.Client == client) >= _maxPerClient)
            {
                return Refusal.ClientQuota;
            }

            slot = new LockSlot(this, backendId, client, _time.GetUtcNow() + _lifetime);
            _slots.Add(slot);
            return Refusal.None;
        }
    }

    /// <summary>Whether a backend has a free slot now (to steer lockcontent to a replica that can take it).</summary>
    public bool HasRoom(string backendId, int backendBudget)
    {
        lock (_gate)
        {
            Sweep();
            return _slots.Count(s => s.BackendId == backendId) < backendBudget;
        }
    }

    public int HeldBy(string backendId)
    {
        lock (_gate)
        {
            Sweep();
            return _slots.Count(s => s.BackendId == backendId);
        }
    }

    /// <summary>The slot of a granted lock, found by the backend's own lockid (for keeplocked).</summary>
    public LockSlot? Find(string backendId, string backendLockId)
    {
        lock (_gate)
        {
            Sweep();
            return _slots.FirstOrDefault(s => s.BackendId == backendId && s.BackendLockId == backendLockId);
        }
    }

    internal void Remove(LockSlot slot)
    {
        lock (_gate)
        {
            _slots.Remove(slot);
        }
    }

    internal void Grant(LockSlot slot, string backendLockId)
    {
        lock (_gate)
        {
            slot.BackendLockId = backendLockId;
            slot.ExpiresAt = _time.GetUtcNow() + _lifetime;
        }
    }

    internal void Keep(LockSlot slot, bool kept)
    {
        lock (_gate)
        {
            slot.Kept = kept;
        }
    }

    /// <summary>Frees slots whose lock the backend has let go by itself: lifetime over and no keeplocked holding it.</summary>
    private void Sweep()
    {
        var now = _time.GetUtcNow();
        _slots.RemoveAll(s => !s.Kept && s.ExpiresAt <= now);
    }
}

/// <summary>One lock slot; dispose releases it (a lock not granted, or one whose keeplocked ended).</summary>
internal sealed class LockSlot : IDisposable
{
    private readonly LockLedger _ledger;

    internal LockSlot(LockLedger ledger, string backendId, string client, DateTimeOffset expiresAt)
    {
        _ledger = ledger;
        BackendId = backendId;
        Client = client;
        ExpiresAt = expiresAt;
    }

    public string BackendId { get; }

    public string Client { get; }

    public string? BackendLockId { get; internal set; }

    public DateTimeOffset ExpiresAt { get; internal set; }

    /// <summary>True while a client's keeplocked holds the lock (it then outlives its lifetime).</summary>
    public bool Kept { get; internal set; }

    public bool IsGranted => BackendLockId is not null;

    /// <summary>The backend granted the lock: the slot now lives for the lock's lifetime.</summary>
    public void Granted(string backendLockId) => _ledger.Grant(this, backendLockId);

    public void SetKept(bool kept) => _ledger.Keep(this, kept);

    public void Dispose() => _ledger.Remove(this);
}
