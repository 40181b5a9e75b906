//! The recording log round trip: what is written is read back exactly, in order, across
//! flushes, blocks and files; the same records give the same bytes; seeking by time.

mod log_support;

use log_support::*;
use paper_trader::log::{Control, LogError, LogReader, LogWriter, Status, WriterOptions};
use proptest::prelude::*;

const HOUR: u64 = 3_600_000_000_000;
const T0: u64 = 1_737_918_000_000_000_000; // 2025-01-26T19:00:00Z

fn arb_specs() -> impl Strategy<Value = Vec<Spec>> {
    let step = prop_oneof![0u64..1_000, 0u64..2_000_000_000, Just(HOUR / 2)];
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 0..5000),
    ];
    let item = (step, 0usize..4, body, 0u8..20);
    proptest::collection::vec(item, 0..120).prop_map(|items| {
        let mut t = T0;
        items
            .into_iter()
            .map(|(dt, s, body, c)| {
                t += dt;
                match c {
                    0 => Spec::Ctl(t, Control::Tick),
                    1 => Spec::Ctl(t, Control::Connect { url: "wss://x/ws".into() }),
                    _ => Spec::Msg(t, ["l2Book:BTC", "trades:BTC", "allMids", "ws"][s].into(), body),
                }
            })
            .collect()
    })
}

fn arb_opts() -> impl Strategy<Value = WriterOptions> {
    (
        prop_oneof![Just(1u64), Just(1_000_000_000), Just(60_000_000_000)],
        prop_oneof![Just(300u64), Just(20_000), Just(u64::MAX)],
        prop_oneof![Just(100u64), Just(10_000), Just(4 << 20)],
        any::<bool>(),
        prop_oneof![Just(1i32), Just(6)],
        any::<bool>(),
    )
        .prop_map(|(flush, rotate, block, hourly, level, compact)| WriterOptions {
            flush_interval_ns: flush,
            rotate_bytes: rotate,
            rotate_hourly: hourly,
            zstd_level: level,
            fsync: false,
            block_bytes: block,
            // Compact blocks (format 1.1) must round-trip under every other option too.
            compact,
            // The writer's own window, or one that holds a whole default block.
            window_log: if level % 2 == 0 { 0 } else { 22 },
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn what_is_written_is_read_back(specs in arb_specs(), opts in arb_opts()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("rec");
        write(&dir, &specs, opts.clone());
        let (got, status) = read(&dir).expect("open");
        prop_assert_eq!(status, Status::Intact);
        prop_assert_eq!(got, expected(&specs));
        // Same records, same options: the same bytes, file for file.
        let dir2 = tmp.path().join("rec2");
        write(&dir2, &specs, opts);
        let (a, b) = (files(&dir), files(&dir2));
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x.file_name(), y.file_name());
            prop_assert!(std::fs::read(x).unwrap() == std::fs::read(y).unwrap(), "{} differs", x.display());
        }
    }

    #[test]
    fn seek_lands_on_the_first_record_at_or_after_t(specs in arb_specs(), opts in arb_opts(), pick in 0.0f64..1.2) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("rec");
        write(&dir, &specs, opts);
        let all = expected(&specs);
        let span = all.last().unwrap().recv_ns - T0;
        let t = T0 + (span as f64 * pick) as u64;
        let mut r = LogReader::open(&dir).unwrap();
        r.seek_time(t).unwrap();
        let (got, status, _) = read_reader(r);
        prop_assert_eq!(status, Status::Intact);
        let want: Vec<Got> = all.iter().skip_while(|g| g.recv_ns < t).cloned().collect();
        prop_assert_eq!(&got, &want);
        // The borrowing reader seeks the same.
        let mut r = LogReader::open(&dir).unwrap();
        r.seek_time(t).unwrap();
        let (borrowed, _, _) = read_reader_borrowed(r);
        prop_assert_eq!(borrowed, want);
    }
}

#[test]
fn an_empty_recording_holds_its_end_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    write(&dir, &[], quiet_opts());
    let (got, status) = read(&dir).unwrap();
    assert_eq!(status, Status::Intact);
    assert_eq!(got, expected(&[]));
    assert_eq!(LogReader::open(&dir).unwrap().header(), &header());
}

#[test]
fn files_rotate_each_utc_hour_and_sort_in_time_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let specs: Vec<Spec> =
        (0..30).map(|i| Spec::Msg(T0 + i * HOUR / 10, "s".into(), format!("m{i}").into_bytes())).collect();
    write(&dir, &specs, quiet_opts());
    let names: Vec<String> =
        files(&dir).iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
    assert_eq!(names, ["20250126T19-000001.ptlog", "20250126T20-000002.ptlog", "20250126T21-000003.ptlog"]);
    assert_eq!(read(&dir).unwrap().0, expected(&specs));
}

#[test]
fn files_rotate_at_the_size_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let specs = feed(400, T0, 50_000_000, 7);
    write(&dir, &specs, WriterOptions { rotate_bytes: 4_000, ..quiet_opts() });
    assert!(files(&dir).len() >= 3, "{:?}", files(&dir));
    assert_eq!(read(&dir).unwrap(), (expected(&specs), Status::Intact));
}

#[test]
fn a_recording_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    write(&dir, &feed(10, T0, 1_000_000, 1), quiet_opts());
    let before: Vec<Vec<u8>> = files(&dir).iter().map(|f| std::fs::read(f).unwrap()).collect();
    let err = LogWriter::create(&dir, header(), quiet_opts()).err().expect("must refuse");
    assert!(matches!(err, LogError::Exists { .. }), "{err}");
    assert!(err.to_string().contains("never overwritten"));
    let after: Vec<Vec<u8>> = files(&dir).iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn a_single_file_reads_like_its_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let specs = feed(50, T0, 100_000_000, 3);
    write(&dir, &specs, quiet_opts());
    let f = &files(&dir)[0];
    assert_eq!(read(f).unwrap(), (expected(&specs), Status::Intact));
}

#[test]
fn stream_names_survive_seeking_into_a_later_block_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rec");
    let specs = feed(300, T0, HOUR / 100, 11);
    write(&dir, &specs, WriterOptions { block_bytes: 500, ..quiet_opts() });
    let t = specs[250].recv_ns();
    let mut r = LogReader::open(&dir).unwrap();
    r.seek_time(t).unwrap();
    let (got, _, _) = read_reader(r);
    let want: Vec<Got> = expected(&specs).into_iter().filter(|g| g.recv_ns >= t).collect();
    assert_eq!(got, want);
}
