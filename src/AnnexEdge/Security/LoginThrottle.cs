using System.Collections.Concurrent;
using System.Net;
using AnnexEdge.Configuration;

namespace AnnexEdge.Security;

/// <summary>
/// Bounds password guessing. A check takes a place in two fixed one-minute windows when it starts (so a burst of
/// concurrent guesses is counted before any of them is checked): one per (address, user name), which bounds guesses
/// at one account, and a coarser one per address, which bounds the PBKDF2 work an address can cause whatever names it
/// tries. A check that succeeds gives its places back. Besides, an address may only have a few checks running or
/// waiting at once, so a burst is refused at once instead of queueing for the CPU.
/// </summary>
internal sealed class LoginThrottle(LimitsOptions limits, TimeProvider time)
{
    private readonly Windows<(IPAddress, string)> _perUser = new(limits.FailedLoginsPerMinutePerIp);
    private readonly Windows<IPAddress> _perAddress = new(limits.FailedPasswordChecksPerMinutePerIp);
    private readonly Dictionary<IPAddress, int> _running = [];

    /// <summary>Whether this user name's logins from this address are refused until the minute ends, remembered or not.</summary>
    public bool IsBlocked(IPAddress address, string user) => _perUser.IsFull((address, user), time.GetUtcNow());

    /// <summary>Takes the places of one password check, or says why it may not start (then nothing was taken).</summary>
    public LoginStart TryStart(IPAddress address, string user, out Attempt? attempt)
    {
        attempt = null;
        lock (_running)
        {
            if (_running.GetValueOrDefault(address) >= limits.PasswordChecksPerIp)
            {
                return LoginStart.TooManyRunning;
            }

            var now = time.GetUtcNow();
            if (!_perAddress.TryTake(address, now, out var addressWindow))
            {
                return LoginStart.TooManyFailures;
            }

            if (!_perUser.TryTake((address, user), now, out var userWindow))
            {
                _perAddress.GiveBack(address, addressWindow);
                return LoginStart.TooManyFailures;
            }

            _running[address] = _running.GetValueOrDefault(address) + 1;
            attempt = new Attempt(this, address, user, addressWindow, userWindow);
            return LoginStart.Started;
        }
    }

    /// <summary>A failure that took no check of its own (it shared one that was running for the same credentials).</summary>
    public void RecordFailure(IPAddress address, string user) => _perUser.Add((address, user), time.GetUtcNow());

    /// <summary>Checks running or waiting for this address (for tests and diagnostics).</summary>
    public int Running(IPAddress address)
    {
        lock (_running)
        {
            return _running.GetValueOrDefault(address);
        }
    }

    private void Finish(Attempt attempt, bool giveBack)
    {
        lock (_running)
        {
            if (--_running[attempt.Address] == 0)
            {
                _running.Remove(attempt.Address);
            }
        }

        if (giveBack)
        {
            _perAddress.GiveBack(attempt.Address, attempt.AddressWindow);
            _perUser.GiveBack((attempt.Address, attempt.User), attempt.UserWindow);
        }
    }

    /// <summary>One started check: ends exactly once, as a failure (its places stay taken) or not.</summary>
    internal sealed class Attempt(LoginThrottle throttle, IPAddress address, string user, DateTimeOffset addressWindow, DateTimeOffset userWindow)
    {
        private int _ended;

        public IPAddress Address { get; } = address;

        public string User { get; } = user;

        public DateTimeOffset AddressWindow { get; } = addressWindow;

        public DateTimeOffset UserWindow { get; } = userWindow;

        public void Failed() => End(giveBack: false);

        /// <summary>Gives the places back: the password was right, or it was never checked (the client went away while waiting).</summary>
        public void Release() => End(giveBack: true);

        private void End(bool giveBack)
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                throttle.Finish(this, giveBack);
            }
        }
    }

    /// <summary>Fixed one-minute windows per key; a limit of 0 turns them off.</summary>
    private sealed class Windows<TKey>(int limit)
        where TKey : notnull
    {
        private const int SweepThreshold = 10_000;

        private readonly ConcurrentDictionary<TKey, Counter> _counters = new();

        public bool IsFull(TKey key, DateTimeOffset now) =>
            limit > 0 && _counters.TryGetValue(key, out var counter) && counter.Count(now) >= limit;

        public bool TryTake(TKey key, DateTimeOffset now, out DateTimeOffset window)
        {
            window = default;
            return limit <= 0 || Get(key, now).TryTake(now, limit, out window);
        }

        public void Add(TKey key, DateTimeOffset now)
        {
            if (limit > 0)
            {
                Get(key, now).TryTake(now, int.MaxValue, out _);
            }
        }

        public void GiveBack(TKey key, DateTimeOffset window)
        {
            if (limit > 0 && _counters.TryGetValue(key, out var counter))
            {
                counter.GiveBack(window);
            }
        }

        private Counter Get(TKey key, DateTimeOffset now)
        {
            if (_counters.Count > SweepThreshold)
            {
                foreach (var (stale, counter) in _counters.Where(e => e.Value.Count(now) == 0))
                {
                    _counters.TryRemove(new KeyValuePair<TKey, Counter>(stale, counter));
                }
            }

            return _counters.GetOrAdd(key, _ => new Counter());
        }
    }

    private sealed class Counter
    {
        private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

        private readonly Lock _lock = new();
        private DateTimeOffset _start;
        private int _count;

        public int Count(DateTimeOffset now)
        {
            lock (_lock)
            {
                return now - _start < Window ? _count : 0;
            }
        }

        public bool TryTake(DateTimeOffset now, int limit, out DateTimeOffset window)
        {
            lock (_lock)
            {
                if (now - _start >= Window)
                {
                    _start = now;
                    _count = 0;
                }

                window = _start;
                if (_count >= limit)
                {
                    return false;
                }

                _count++;
                return true;
            }
        }

        /// <summary>Gives a place back to the window it was taken from; a later window owes it nothing.</summary>
        public void GiveBack(DateTimeOffset window)
        {
            lock (_lock)
            {
                if (_start == window && _count > 0)
                {
                    _count--;
                }
            }
        }
    }
}

internal enum LoginStart
{
    Started,

    /// <summary>The address or the (address, user name) has used its failures for this minute.</summary>
    TooManyFailures,

    /// <summary>The address already has <c>PasswordChecksPerIp</c> checks running or waiting.</summary>
    TooManyRunning,
}
