use linfa::prelude::*;
use linfa_bayes::{MultinomialNb, NaiveBayes};
use ndarray::{Array1, Array2};

use super::*;
use crate::testing::picker;
use crate::text::normalize_content;

fn dense_params() -> NbParams {
    NbParams {
        features: FeatureConfig {
            bits: 8,
            ..FeatureConfig::default()
        },
        alpha: 1.0,
        length_power: 0.0,
        min_class_docs: 1,
    }
}

#[test]
fn naive_bayes_agrees_with_linfa_oracle() {
    // 40 documents over 12 features; spam favours the low features, ham the high ones.
    let (docs, features) = (40usize, 12usize);
    let mut next = picker(7);
    let mut x = Array2::<f64>::zeros((docs, features));
    let mut y = Array1::<usize>::zeros(docs);
    for d in 0..docs {
        let spam = d % 3 == 0;
        y[d] = usize::from(spam);
        for f in 0..features {
            let bias = if spam == (f < features / 2) { 4 } else { 2 };
            x[(d, f)] = next(bias) as f64;
        }
        // Every feature occurs somewhere, so our vocabulary equals linfa's dense width.
        x[(d, d % features)] += 1.0;
    }
    let oracle = MultinomialNb::params()
        .alpha(1.0)
        .fit(&DatasetView::new(x.view(), y.view()))
        .unwrap();

    let mut model = NbModel::new(dense_params());
    for d in 0..docs {
        let buckets: Vec<u32> = (0..features)
            .flat_map(|f| std::iter::repeat_n(f as u32, x[(d, f)] as usize))
            .collect();
        model.learn(
            &buckets,
            if y[d] == 1 { Label::Spam } else { Label::Ham },
            1.0,
        );
    }

    let jll = oracle.joint_log_likelihood(x.view());
    let predicted: Array1<usize> = oracle.predict(&x);
    for d in 0..docs {
        let row: Vec<(u32, f64)> = (0..features).map(|f| (f as u32, x[(d, f)])).collect();
        let (spam, ham) = model.joint_log_likelihood(&row);
        assert!(
            (spam - jll[&1][d]).abs() < 1e-9,
            "doc {d}: spam {spam} vs {}",
            jll[&1][d]
        );
        assert!(
            (ham - jll[&0][d]).abs() < 1e-9,
            "doc {d}: ham {ham} vs {}",
            jll[&0][d]
        );
        let ours = usize::from(spam > ham);
        assert_eq!(ours, predicted[d], "doc {d}");
    }
}

#[test]
fn learning_then_unlearning_restores_the_model() {
    let mut model = NbModel::new(dense_params());
    model.learn(&[1, 2, 3], Label::Spam, 1.0);
    model.learn(&[3, 4], Label::Ham, 1.0);
    let kinds = [0u8; 3];
    let before = model.evidence(&[1, 4, 5], &kinds);
    model.learn(&[1, 9, 9], Label::Ham, 1.0);
    assert_ne!(model.evidence(&[1, 4, 5], &kinds), before);
    model.learn(&[1, 9, 9], Label::Ham, -1.0);
    assert_eq!(model.evidence(&[1, 4, 5], &kinds), before);
    assert_eq!(model.doc_counts(), (1, 1));
}

#[test]
fn too_few_examples_give_no_opinion() {
    let mut model = NbModel::new(NbParams {
        min_class_docs: 2,
        ..dense_params()
    });
    model.learn(&[1], Label::Spam, 1.0);
    model.learn(&[2], Label::Ham, 1.0);
    assert_eq!(model.predict(&[1], &[0]).probability, None);
    model.learn(&[1], Label::Spam, 1.0);
    model.learn(&[2], Label::Ham, 1.0);
    assert!(model
        .predict(&[1], &[0])
        .probability
        .is_some_and(|p| p > 0.5));
}

#[test]
fn artifact_round_trips_and_detects_corruption() {
    let trainer = Trainer::new(TrainOptions {
        params: NbParams {
            features: FeatureConfig {
                bits: 12,
                ..FeatureConfig::default()
            },
            ..NbParams::default()
        },
        // Three folds: with two, `index mod 2` would put every spam row in one fold.
        calibration_folds: 3,
    });
    let rows = [
        ("buy cheap pills now", Label::Spam),
        ("lovely recipe, thanks", Label::Ham),
    ];
    let docs: Vec<ExtractedDoc> = rows
        .iter()
        .cycle()
        .take(60)
        .map(|(t, l)| {
            let f = trainer.features_of(&Comment::from_text(*t, None), &normalize_content(t));
            ExtractedDoc {
                buckets: f.buckets().to_vec(),
                kinds: f.kinds().to_vec(),
                label: *l,
                weight: 1.0,
            }
        })
        .collect();
    let model = trainer.fit(&docs);
    let dir = tempfile::tempdir().unwrap();
    let manifest =
        artifact::write_model(&model, dir.path(), "h".into(), vec![], CvMetrics::default())
            .unwrap();
    let (loaded, m2) = ModelArtifact::read_dir(dir.path()).unwrap();
    assert_eq!(manifest, m2);
    let (b, k) = (&docs[0].buckets, &docs[0].kinds);
    assert_eq!(loaded.predict(b, k), model.predict(b, k));
    assert!(
        loaded.predict(b, k).probability.unwrap() > 0.5,
        "{:?} {:?}",
        loaded.predict(b, k),
        loaded.calibration()
    );

    let path = dir.path().join(MODEL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        ModelArtifact::read_dir(dir.path()),
        Err(ArtifactError::HashMismatch { .. })
    ));
}

#[test]
fn strongest_tokens_point_both_ways() {
    let mut model = NbModel::new(NbParams {
        features: FeatureConfig {
            char_min: 0,
            ..dense_params().features
        },
        ..dense_params()
    });
    let config = model.params.features;
    let extract =
        |t: &str| Features::extract(&config, &normalize_content(t), AuthorFields::default());
    let spam = extract("free money subscribe");
    let ham = extract("thanks recipe lovely");
    for _ in 0..3 {
        model.learn(spam.buckets(), Label::Spam, 1.0);
        model.learn(ham.buckets(), Label::Ham, 1.0);
    }
    let f = extract("free recipe");
    let tokens = model.strongest_tokens(&f, 5);
    assert!(
        tokens.iter().any(|t| t.token == "w:free" && t.weight > 0.0),
        "{tokens:?}"
    );
    assert!(
        tokens
            .iter()
            .any(|t| t.token == "w:recipe" && t.weight < 0.0),
        "{tokens:?}"
    );
}

#[test]
fn asking_for_no_tokens_gives_none() {
    let model = NbModel::new(dense_params());
    let f = Features::extract(
        &model.params.features,
        &normalize_content("hello"),
        AuthorFields::default(),
    );
    assert!(model.strongest_tokens(&f, 0).is_empty());
}

#[test]
fn invalid_parameters_are_refused() {
    let ok = NbParams::default();
    assert!(ok.validate().is_ok());
    for bad in [
        NbParams { alpha: 0.0, ..ok },
        NbParams {
            alpha: f64::NAN,
            ..ok
        },
        NbParams {
            length_power: 9.0,
            ..ok
        },
        NbParams {
            features: FeatureConfig {
                char_max: 255,
                ..ok.features
            },
            ..ok
        },
        NbParams {
            features: FeatureConfig {
                bits: 30,
                ..ok.features
            },
            ..ok
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    let dup = NbModel::from_sparse(
        dense_params(),
        (1, 1),
        Calibration::identity(),
        &[(3, 1.0, 0.0), (3, 1.0, 0.0)],
    );
    assert!(dup.is_err(), "repeated buckets are refused");
}

/// Random documents over `2^bits` buckets with weights 1, 2 and 0.5 (moderator labels may
/// carry any weight).
fn random_docs(bits: u8, n: usize, seed: u64) -> Vec<ExtractedDoc> {
    let mut next = picker(seed);
    (0..n)
        .map(|i| {
            let len = 5 + next(40);
            let buckets: Vec<u32> = (0..len).map(|_| next(1 << bits) as u32).collect();
            ExtractedDoc {
                kinds: buckets.iter().map(|b| (b % KINDS as u32) as u8).collect(),
                buckets,
                label: if i % 3 == 0 { Label::Spam } else { Label::Ham },
                weight: [1.0, 2.0, 0.5][i % 3],
            }
        })
        .collect()
}

fn same_model(a: &NbModel, b: &NbModel) -> bool {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    a.counts == b.counts
        && a.totals == b.totals
        && a.docs == b.docs
        && a.vocabulary == b.vocabulary
        && bits(&a.log_ratio) == bits(&b.log_ratio)
}

#[test]
fn counting_in_parts_one_by_one_or_at_once_gives_one_model() {
    // 600 documents touch far more than one bucket in 64 of 4096: the batch takes the
    // bitmap path, the one-by-one learning the sorted list.
    let params = NbParams {
        features: FeatureConfig {
            bits: 12,
            ..FeatureConfig::default()
        },
        ..NbParams::default()
    };
    let docs = random_docs(12, 600, 11);
    fn each(d: &ExtractedDoc) -> (&[u32], Label, f32) {
        (d.buckets.as_slice(), d.label, d.weight)
    }

    let mut at_once = NbModel::new(params);
    at_once.learn_batch(docs.iter().map(each));

    let mut one_by_one = NbModel::new(params);
    for d in &docs {
        one_by_one.learn(&d.buckets, d.label, d.weight);
    }

    let (first, second) = docs.split_at(250);
    let mut parts = [ClassCounts::new(&params), ClassCounts::new(&params)];
    parts[0].add(first.iter().map(each));
    parts[1].add(second.iter().map(each));
    let mut from_parts = NbModel::new(params);
    from_parts.add_counts(&parts);

    assert!(same_model(&at_once, &one_by_one), "batch vs one by one");
    assert!(same_model(&at_once, &from_parts), "batch vs parts");
}

#[test]
fn out_of_fold_evidence_matches_a_fresh_copy_per_fold() {
    // The working copy is restored after each fold; a model copied afresh per fold is the
    // plain definition, and both must give the same evidence to the bit.
    let params = NbParams {
        features: FeatureConfig {
            bits: 10,
            ..FeatureConfig::default()
        },
        ..NbParams::default()
    };
    let trainer = Trainer::new(TrainOptions {
        params,
        calibration_folds: 5,
    });
    let docs = random_docs(10, 300, 5);
    let full = trainer.count(&docs);
    let fast = trainer.out_of_fold_evidence(&full, &docs);
    for (i, d) in docs.iter().enumerate() {
        let mut fresh = full.clone();
        fresh.learn_batch(
            docs.iter()
                .skip(i % 5)
                .step_by(5)
                .map(|d| (d.buckets.as_slice(), d.label, -d.weight)),
        );
        let reference = fresh.evidence(&d.buckets, &d.kinds);
        assert_eq!(
            fast[i].0.map(f64::to_bits),
            reference.map(f64::to_bits),
            "document {i}"
        );
    }
}

#[test]
fn logarithm_table_gives_what_the_logarithm_gives() {
    let table = LnTable::new(0.1);
    for count in [
        0.0f32, 1.0, 2.0, 3.0, 1023.0, 1024.0, 5000.0, 0.5, 2.25, 1e9,
    ] {
        assert_eq!(
            table.ln(count).to_bits(),
            (count as f64 + 0.1).ln().to_bits(),
            "{count}"
        );
    }
    assert!(table.ratio(0.0, 0.0).is_nan(), "unseen bucket");
}

/// The candidate buffer keeps what sorting every feature and cutting would: strongest first,
/// ties in feature order, only weights above zero; checked on weight lists with many ties
/// (weights drawn from a handful of values) and of every length around the buffer's size.
#[test]
fn strongest_side_keeps_what_a_full_sort_keeps() {
    let mut next = picker(7);
    for n in [0, 1, 5, 19, 20, 21, 63, 64, 65, 127, 128, 129, 300, 1000] {
        for keep in [0, 1, 2, 10, 20, 32] {
            let weights: Vec<f32> = (0..n).map(|_| next(9) as f32 * 0.5 - 1.0).collect();
            let mut side = Side::new(keep);
            for (i, &w) in weights.iter().enumerate() {
                if w > side.bar {
                    side.push(w, i);
                }
            }
            let mut expected: Vec<(f32, u32)> = weights
                .iter()
                .enumerate()
                .filter(|(_, &w)| w > 0.0)
                .map(|(i, &w)| (w, i as u32))
                .collect();
            // A stable sort by weight alone leaves ties in feature order.
            expected.sort_by(|a, b| b.0.total_cmp(&a.0));
            expected.truncate(keep);
            assert_eq!(side.sorted(), expected.as_slice(), "n {n}, keep {keep}");
        }
    }
}

/// The table of length normalisations gives what `powf` gives, inside the table and past it.
#[test]
fn length_norm_table_equals_the_general_power() {
    for power in [0.0, 0.5, 0.75, 1.0, 2.0] {
        let model = NbModel::new(NbParams {
            length_power: power,
            ..dense_params()
        });
        for n in (0..3000u32).chain([100_000, u32::MAX]) {
            assert_eq!(
                model.length_norm(n).to_bits(),
                // Opaque to the optimiser: a release build may otherwise fold this `powf`
                // at compile time, correctly rounded, where the table's ran the library's.
                std::hint::black_box(n as f64)
                    .powf(std::hint::black_box(power))
                    .to_bits(),
                "count {n}, power {power}"
            );
        }
    }
}

/// A comment's buckets under the shipped model, and the model.
fn shipped_with(text: &str) -> (NbModel, NormalizedText, Vec<u32>) {
    let (model, _) = crate::scoring::shipped_model().expect("shipped model loads");
    let text = normalize_content(text);
    let buckets = model
        .features(&text, AuthorFields::default())
        .buckets()
        .to_vec();
    (model, text, buckets)
}

fn probability_at(model: &NbModel, text: &NormalizedText, layer: Option<&SiteLayer>) -> f64 {
    let (p, _) = model.assess_text_at(text, AuthorFields::default(), 3, layer);
    p.probability.expect("the shipped model has an opinion")
}

#[test]
fn a_site_layer_counts_its_labels_site_boost_times_more_for_its_site() {
    let (shared, text, buckets) =
        shipped_with("Lovely photos of the lake, we walked there last summer with the kids.");
    let mut learned_once = shared.clone();
    let mut learned_boosted = shared.clone();
    let mut layers = SiteLayers::new();
    for _ in 0..20 {
        learned_once.learn(&buckets, Label::Spam, SHARED_SHARE);
        learned_boosted.learn(&buckets, Label::Spam, SHARED_SHARE + SITE_BOOST);
        layers.learn(7, "https://a.example", &buckets, Label::Spam, 1.0);
    }
    let layer = layers.get(7).expect("the site has a layer");
    assert_eq!(layer.label_counts(), (20, 0));
    let at_site = probability_at(&learned_once, &text, Some(layer));
    let elsewhere = probability_at(&learned_once, &text, None);
    let boosted = probability_at(&learned_boosted, &text, None);
    // Only the vocabulary size differs (the layer's new buckets are not added to it).
    assert!(
        (at_site - boosted).abs() < 1e-4,
        "layer {at_site} vs counting the labels {} times: {boosted}",
        SHARED_SHARE + SITE_BOOST
    );
    // In log-odds: twenty labels may bring both near 1, where probabilities barely differ.
    let logit = |p: f64| (p / (1.0 - p)).ln();
    assert!(
        logit(at_site) > logit(elsewhere) + 1.0,
        "at its site {at_site}, elsewhere {elsewhere}"
    );
    assert!(layers.get(8).is_none(), "another site has no layer");
}

#[test]
fn taking_a_sites_labels_back_empties_its_layer() {
    let (shared, text, buckets) = shipped_with("Thanks, this fixed my build on the old laptop.");
    let mut layers = SiteLayers::new();
    for weight in [1.0, 1.0, -1.0, -1.0] {
        layers.learn(1, "https://a.example", &buckets, Label::Ham, weight);
    }
    let layer = layers.get(1).expect("the site keeps its (empty) layer");
    assert_eq!(layer.label_counts(), (0, 0));
    assert_eq!((layer.buckets(), layers.buckets()), (0, 0));
    assert_eq!(
        probability_at(&shared, &text, Some(layer)).to_bits(),
        probability_at(&shared, &text, None).to_bits(),
        "an empty layer changes nothing"
    );
    layers.learn(2, "https://b.example", &buckets, Label::Ham, -1.0);
    assert!(
        layers.get(2).is_none(),
        "taking back a label makes no layer"
    );
}

#[test]
fn site_layers_are_bounded_in_sites() {
    let mut layers = SiteLayers::new();
    for site in 0..=MAX_SITES as u64 {
        layers.learn(site, "s", &[1, 2], Label::Spam, 1.0);
    }
    assert!(layers.get(MAX_SITES as u64 - 1).is_some());
    assert!(layers.get(MAX_SITES as u64).is_none(), "one site too many");
    assert_eq!(layers.buckets(), 2 * MAX_SITES);
}

/// Every bit of what scoring a comment of `layer`'s site gives: prediction and tokens.
fn assessed_bits(model: &NbModel, text: &NormalizedText, layer: &SiteLayer) -> String {
    let (p, tokens) = model.assess_text_at(text, AuthorFields::default(), 5, Some(layer));
    format!(
        "{:x} {:?} {} {:?} {tokens:?}",
        p.log_odds.to_bits(),
        p.probability.map(f64::to_bits),
        p.known_features,
        p.without_author_name.map(f64::to_bits)
    )
}

#[test]
fn kept_site_ratios_score_exactly_as_computing_them() {
    let (mut shared, text, buckets) =
        shipped_with("Subscribe to my channel for free gift cards, link in my profile!!");
    let (_, _, other) = shipped_with("My channel has gift card giveaways every week, subscribe");
    let mut kept = SiteLayers::new();
    for label in [Label::Spam, Label::Spam, Label::Ham] {
        shared.learn(&buckets, label, SHARED_SHARE);
        kept.learn(3, "https://a.example", &buckets, label, 1.0);
    }
    // The same counts with no ratio ever computed: scoring computes each from the counts.
    let computed = kept.clone();
    kept.refresh(3, &shared, None);
    let layer = kept.get(3).expect("a layer");
    for &b in &buckets {
        let entry = layer.entry(b).expect("every bucket is held");
        assert_eq!(
            entry.shared,
            shared.shared_counts(b),
            "bucket {b} is up to date"
        );
        assert_eq!(
            entry.ratio.to_bits(),
            shared.layered_ratio(entry.shared, entry.site).to_bits()
        );
    }
    let fresh = assessed_bits(&shared, &text, layer);
    assert_eq!(
        fresh,
        assessed_bits(&shared, &text, computed.get(3).unwrap())
    );
    // The shared model moves under the kept ratios (another site's labels): those over
    // buckets it changed are no longer read, the others still are, and the result is what
    // a full refresh gives.
    shared.learn(&other, Label::Spam, 5.0);
    let moved = assessed_bits(&shared, &text, layer);
    assert_ne!(moved, fresh, "the other site's labels count here too");
    let mut refreshed = kept.clone();
    refreshed.refresh(3, &shared, None);
    assert_eq!(
        moved,
        assessed_bits(&shared, &text, refreshed.get(3).unwrap())
    );
    assert_eq!(
        moved,
        assessed_bits(&shared, &text, computed.get(3).unwrap())
    );
    // Refreshing one label's buckets leaves the layer as a full refresh does.
    let mut partly = kept.clone();
    partly.refresh(3, &shared, Some(&other));
    let (partly, refreshed) = (partly.get(3).unwrap(), refreshed.get(3).unwrap());
    for &b in &buckets {
        assert_eq!(partly.entry(b), refreshed.entry(b), "bucket {b}");
    }
}

#[test]
fn kept_site_ratios_are_not_read_by_a_model_smoothing_otherwise() {
    let (shared, text, buckets) = shipped_with("Great tune, I play it on repeat every morning");
    let mut kept = SiteLayers::new();
    kept.learn(5, "https://a.example", &buckets, Label::Ham, 1.0);
    let computed = kept.clone();
    kept.refresh(5, &shared, None);
    // Same counts, other smoothing: every held bucket's counts match what the ratios were
    // kept over, so only the smoothing tells them apart.
    let mut params = *shared.params();
    params.alpha *= 3.0;
    let smoother = NbModel::from_sparse(
        params,
        shared.doc_counts(),
        shared.calibration(),
        &shared.sparse_counts(),
    )
    .expect("valid counts");
    assert_eq!(
        assessed_bits(&smoother, &text, kept.get(5).unwrap()),
        assessed_bits(&smoother, &text, computed.get(5).unwrap())
    );
    assert_ne!(
        assessed_bits(&smoother, &text, kept.get(5).unwrap()),
        assessed_bits(&shared, &text, kept.get(5).unwrap())
    );
}

#[test]
fn a_label_learned_at_a_site_leaves_its_layer_up_to_date() {
    let mut scorer = crate::scoring::Scorer::load(None, Default::default()).expect("loads");
    let mut comment = crate::domain::Comment::from_text("Visit my page for cheap followers", None);
    comment.site = Some("https://a.example".into());
    scorer.learn(&comment, Label::Spam, 2.0);
    let text = normalize_content(&comment.content);
    let buckets = scorer
        .model()
        .features(&text, author_fields(&comment))
        .buckets()
        .to_vec();
    let layer = scorer
        .site_layer(Some("https://a.example"))
        .expect("a layer");
    for &b in &buckets {
        let entry = layer.entry(b).expect("held");
        assert_eq!(entry.shared, scorer.model().shared_counts(b), "bucket {b}");
    }
}

#[test]
fn sources_are_balanced_within_a_class_that_has_several() {
    let cap = SOURCE_CAP as usize;
    // (source, label, rows): two sources with both classes, two with spam only, one with
    // genuine comments only, and a corpus where each class has one source.
    let mixed: Vec<(Option<&str>, Label, usize)> = vec![
        (Some("big"), Label::Spam, 4 * cap),
        (Some("big"), Label::Ham, 10),
        (Some("small"), Label::Spam, 10),
        (Some("small"), Label::Ham, 10),
        (Some("spam-site"), Label::Spam, 3 * cap),
        (Some("small-spam-site"), Label::Spam, 20),
        (Some("ham-site"), Label::Ham, 30),
        (None, Label::Spam, 5),
        (None, Label::Ham, 5),
    ];
    let lone: Vec<(Option<&str>, Label, usize)> = vec![
        (Some("spam-only"), Label::Spam, 3 * cap),
        (Some("ham-only"), Label::Ham, 3 * cap),
    ];
    let total = |groups: &[(Option<&str>, Label, usize)], source: &str, label: Label| -> f64 {
        let rows: Vec<(Option<&str>, Label)> = groups
            .iter()
            .flat_map(|&(s, l, n)| std::iter::repeat_n((s, l), n))
            .collect();
        let weights = source_weights(rows.iter().copied());
        rows.iter()
            .zip(&weights)
            .filter(|((s, l), _)| s.unwrap_or("") == source && *l == label)
            .map(|(_, &w)| w as f64)
            .sum()
    };
    // (case, total weight, expected, why)
    let cases = [
        (
            "big_source_capped",
            total(&mixed, "big", Label::Spam),
            SOURCE_CAP,
            "a large source counts as the cap",
        ),
        (
            "small_source_whole",
            total(&mixed, "small", Label::Spam),
            10.0,
            "a source under the cap counts every row",
        ),
        (
            "one_class_source_capped_and_trusted_less",
            total(&mixed, "spam-site", Label::Spam),
            SOURCE_CAP * ONE_CLASS_SOURCE_WEIGHT,
            "a source of spam only ties its site to spam",
        ),
        (
            "small_one_class_source_trusted_less",
            total(&mixed, "small-spam-site", Label::Spam),
            20.0 * ONE_CLASS_SOURCE_WEIGHT,
            "under the cap, still one class only",
        ),
        (
            "ham_only_source_trusted_less",
            total(&mixed, "ham-site", Label::Ham),
            30.0 * ONE_CLASS_SOURCE_WEIGHT,
            "a source of genuine comments only ties its site to them",
        ),
        (
            "lone_source_whole",
            total(&lone, "ham-only", Label::Ham),
            3.0 * SOURCE_CAP,
            "the only source of its class is left alone",
        ),
        (
            "no_source_whole",
            total(&mixed, "", Label::Spam),
            5.0,
            "rows without a source (moderator labels) count 1",
        ),
    ];
    for (case, got, want, why) in cases {
        assert!((got - want).abs() < 1e-3, "{case}: {got} != {want} ({why})");
    }
}

/// Each case: a text, whether the shipped model should find it unfamiliar, and why.
#[test]
fn text_in_a_script_the_model_never_learned_is_unfamiliar() {
    let (model, _) = crate::scoring::shipped_model().expect("shipped model loads");
    let cases = [
        (
            "好文章！我的网站也遇到了同样的问题，用你的方法解决了。",
            true,
            "Chinese: the corpus holds none, so what it knows of it is bucket collisions",
        ),
        (
            "我的博客也是用这个主题，请问评论区怎么改成中文？",
            true,
            "Chinese again, a question about the blog's theme",
        ),
        (
            "Thanks, this helped our team a lot.",
            false,
            "English: nearly every feature was seen in training",
        ),
        (
            "Dzięki, subskrybuję twój newsletter od dziś!",
            false,
            "Polish shares most of its n-grams with languages the corpus holds",
        ),
    ];
    for (text, want, why) in cases {
        let (p, _) = model.assess_text(&normalize_content(text), AuthorFields::default(), 5);
        assert_eq!(
            p.unfamiliar, want,
            "{why}: {} features known of {text:?}",
            p.known_features
        );
    }
    assert!(!model.is_unfamiliar(0, 0), "no features: nothing to judge");
}
