using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Locking;

/// <summary>What became of a <c>keeplocked</c>'s claim on the lock its token names.</summary>
internal enum KeepClaim
{
    /// <summary>The relay may go on: the slot is its own until disposed.</summary>
    Kept,

    /// <summary>The token's lifetime is over: the backend has let go of the lock by itself.</summary>
    Expired,

    /// <summary>A keeplocked for this lock is being relayed, or was and has ended.</summary>
    AlreadyRelayed,

    /// <summary>The edge holds this lock for another key or client than the token names.</summary>
    OtherLock,

    /// <summary>A lock granted through another edge process, and this one's quota has no room for it.</summary>
    NoRoom,
}

/// <summary>
/// The edge's record of the locks its backends hold for clients, and the accounting that keeps a backend from
/// being wedged and its slots shared (<see cref="LockQuota"/>). A slot is taken before <c>lockcontent</c> is
/// forwarded and kept while the backend holds the lock: until the client's <c>keeplocked</c> ends, or the
/// protocol's lock lifetime has passed without one (never earlier). A lock's one keeplocked is relayed only while
/// the ledger holds the lock, and at most once.
/// </summary>
internal sealed class LockLedger
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;
    private readonly LockQuota _quota;
    private readonly List<LockSlot> _slots = [];

    /// <summary>Locks whose keeplocked has ended, until their token expires: their token opens no second relay.</summary>
    private readonly Dictionary<(string BackendId, string LockId), DateTimeOffset> _relayed = [];

    public LockLedger(IOptions<AnnexEdgeOptions> options, TimeProvider time)
        : this(LockQuota.From(options.Value), options.Value.Locking.LockLifetime, time)
    {
    }

    public LockLedger(LockQuota quota, TimeSpan lifetime, TimeProvider time)
    {
        _quota = quota;
        _lifetime = lifetime;
        _time = time;
    }

    public LockQuota Quota => _quota;

    /// <summary>Whether <paramref name="client"/> could take a slot of <paramref name="backendId"/> now (to steer lockcontent).</summary>
    public LockRefusal Check(string backendId, int backendBudget, LockPrincipal client)
    {
        lock (_gate)
        {
            Sweep();
            return _quota.Decide(backendBudget, Holdings(backendId, client), client);
        }
    }

    /// <summary>Takes a slot for a lock on <paramref name="key"/> about to be requested from <paramref name="backendId"/>.</summary>
    public LockRefusal TryReserve(string backendId, int backendBudget, LockPrincipal client, string key, out LockSlot? slot)
    {
        lock (_gate)
        {
            Sweep();
            slot = null;
            var refusal = _quota.Decide(backendBudget, Holdings(backendId, client), client);
            if (refusal == LockRefusal.None)
            {
                slot = new LockSlot(this, backendId, client, key, _time.GetUtcNow() + _lifetime);
                _slots.Add(slot);
            }

            return refusal;
        }
    }

    /// <summary>
    /// Claims the lock a token names for one keeplocked relay. A lock this ledger does not hold, that a token of the
    /// shared key names within its lifetime, was granted through another edge process (or before a restart): it is
    /// taken into this ledger, within this edge's quota, as a lock that is already being kept.
    /// </summary>
    public KeepClaim TryKeep(LockToken token, int backendBudget, out LockSlot? slot)
    {
        lock (_gate)
        {
            Sweep();
            slot = null;
            if (token.IssuedAt + _lifetime <= _time.GetUtcNow())
            {
                return KeepClaim.Expired;
            }

            var held = _slots.FirstOrDefault(s => s.BackendId == token.BackendId && s.BackendLockId == token.BackendLockId);
            if (held is not null)
            {
                if (held.Kept)
                {
                    return KeepClaim.AlreadyRelayed;
                }

                if (held.Key != token.Key || held.Client != token.Principal || held.IssuedAt != token.IssuedAt)
                {
                    return KeepClaim.OtherLock;
                }

                held.Kept = true;
                slot = held;
                return KeepClaim.Kept;
            }

            if (_relayed.ContainsKey((token.BackendId, token.BackendLockId)))
            {
                return KeepClaim.AlreadyRelayed;
            }

            if (_quota.Decide(backendBudget, Holdings(token.BackendId, token.Principal), token.Principal) != LockRefusal.None)
            {
                return KeepClaim.NoRoom;
            }

            slot = new LockSlot(this, token.BackendId, token.Principal, token.Key, token.IssuedAt + _lifetime)
            {
                BackendLockId = token.BackendLockId,
                IssuedAt = token.IssuedAt,
                Kept = true,
            };
            _slots.Add(slot);
            return KeepClaim.Kept;
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

    /// <summary>
    /// Takes out the locks that backends hold for clients who have not sent their keeplocked (yet): at stop, no
    /// keeplocked will come through this process, so the edge unlocks them itself (see <see cref="LocksReleasedAtStop"/>).
    /// </summary>
    public IReadOnlyList<LockSlot> TakeUnkept()
    {
        lock (_gate)
        {
            Sweep();
            var unkept = _slots.Where(s => s is { IsGranted: true, Kept: false }).ToArray();
            _slots.RemoveAll(s => s is { IsGranted: true, Kept: false });
            return unkept;
        }
    }

    internal void Remove(LockSlot slot)
    {
        lock (_gate)
        {
            if (_slots.Remove(slot) && slot is { Kept: true, BackendLockId: { } lockId })
            {
                _relayed[(slot.BackendId, lockId)] = slot.IssuedAt + _lifetime;
            }
        }
    }

    internal DateTimeOffset Grant(LockSlot slot, string backendLockId, LockRelease? release)
    {
        lock (_gate)
        {
            slot.Release = release;
            // To the millisecond, as the token carries it.
            var now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
            slot.BackendLockId = backendLockId;
            slot.IssuedAt = now;
            slot.ExpiresAt = now + _lifetime;
            return now;
        }
    }

    private LockHoldings Holdings(string backendId, LockPrincipal client)
    {
        int onBackend = 0, anonymous = 0, clientOnBackend = 0, clientTotal = 0;
        foreach (var s in _slots)
        {
            var mine = s.Client == client;
            clientTotal += mine ? 1 : 0;
            if (s.BackendId == backendId)
            {
                onBackend++;
                anonymous += s.Client.IsUser ? 0 : 1;
                clientOnBackend += mine ? 1 : 0;
            }
        }

        return new LockHoldings(onBackend, anonymous, clientOnBackend, clientTotal);
    }

    /// <summary>
    /// Frees slots whose lock the backend has let go by itself (lifetime over and no keeplocked holding it), and
    /// forgets relayed locks whose token has expired.
    /// </summary>
    private void Sweep()
    {
        var now = _time.GetUtcNow();
        _slots.RemoveAll(s => !s.Kept && s.ExpiresAt <= now);
        foreach (var (lockKey, expires) in _relayed)
        {
            if (expires <= now)
            {
                _relayed.Remove(lockKey);
            }
        }
    }
}

/// <summary>One lock slot; dispose releases it (a lock not granted, or one whose keeplocked ended).</summary>
internal sealed class LockSlot : IDisposable
{
    private readonly LockLedger _ledger;

    internal LockSlot(LockLedger ledger, string backendId, LockPrincipal client, string key, DateTimeOffset expiresAt)
    {
        _ledger = ledger;
        BackendId = backendId;
        Client = client;
        Key = key;
        ExpiresAt = expiresAt;
    }

    public string BackendId { get; }

    public LockPrincipal Client { get; }

    public string Key { get; }

    public string? BackendLockId { get; internal set; }

    /// <summary>When the backend granted the lock (the time its token carries).</summary>
    public DateTimeOffset IssuedAt { get; internal set; }

    public DateTimeOffset ExpiresAt { get; internal set; }

    /// <summary>True once a client's keeplocked holds the lock (it then outlives its lifetime until the relay ends).</summary>
    public bool Kept { get; internal set; }

    public bool IsGranted => BackendLockId is not null;

    /// <summary>How the edge itself unlocks the lock at the backend, when no client's keeplocked will.</summary>
    public LockRelease? Release { get; internal set; }

    /// <summary>The backend granted the lock: the slot now lives for the lock's lifetime from now, which it returns.</summary>
    public DateTimeOffset Granted(string backendLockId, LockRelease? release = null) => _ledger.Grant(this, backendLockId, release);

    public void Dispose() => _ledger.Remove(this);
}
