// A short Java program for HotSpot's own flight recorder to record (test/jfr/record.mjs runs it as
// `java Workload.java`): threads that burn CPU, allocate small and large arrays (in and outside
// TLABs), contend on one monitor for longer than the recorder's lock threshold, and park.
// It prints the id the recording gives jdk.ExecutionSample, so that the test's expectations can
// pick that event's `period` out of the recording's jdk.ActiveSetting events.

import java.util.concurrent.locks.LockSupport;
import jdk.jfr.EventType;
import jdk.jfr.FlightRecorder;

public class Workload {
  static final long RUN_NANOS = 1_500_000_000L;
  /** Longer than the lock and park thresholds of both the profile (10 ms) and default (20 ms) settings. */
  static final long HOLD_MILLIS = 40;
  static final Object LOCK = new Object();
  static final byte[][] KEPT = new byte[64][];
  static volatile long sink;

  public static void main(String[] args) throws Exception {
    for (EventType t : FlightRecorder.getFlightRecorder().getEventTypes()) {
      if (t.getName().equals("jdk.ExecutionSample")) System.out.println("jdk.ExecutionSample " + t.getId());
    }
    long end = System.nanoTime() + RUN_NANOS;
    Thread[] threads = {
      new Thread(() -> burn(end), "burner-1"),
      new Thread(() -> burn(end), "burner-2"),
      new Thread(() -> allocate(end), "allocator"),
      new Thread(() -> hold(end), "holder"),
      new Thread(() -> contend(end), "contender-1"),
      new Thread(() -> contend(end), "contender-2"),
      new Thread(() -> park(end), "parker"),
    };
    for (Thread t : threads) t.start();
    for (Thread t : threads) t.join();
  }

  static void burn(long end) {
    long x = 1;
    while (System.nanoTime() < end) {
      for (int i = 0; i < 100_000; i++) x = x * 6364136223846793005L + 1442695040888963407L;
      sink = x;
    }
  }

  static void allocate(long end) {
    int i = 0;
    while (System.nanoTime() < end) {
      // Every 64th array is 2 MiB, larger than any TLAB: allocated outside one. The pauses keep
      // the recording small.
      KEPT[i & 63] = new byte[(i & 63) == 0 ? 2 << 20 : 64 + (i * 97) % 16_384];
      i++;
      if ((i & 31) == 0) LockSupport.parkNanos(1_000_000);
    }
  }

  static void hold(long end) {
    while (System.nanoTime() < end) {
      synchronized (LOCK) {
        sleep(HOLD_MILLIS);
      }
      sleep(1);
    }
  }

  static void contend(long end) {
    while (System.nanoTime() < end) {
      synchronized (LOCK) {
        sink++;
      }
    }
  }

  static void park(long end) {
    while (System.nanoTime() < end) LockSupport.parkNanos(HOLD_MILLIS * 1_000_000);
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
