use scale_info::TypeDef;
fn show(md: &subxt::metadata::Metadata, id: u32) {
    let t = md.types().resolve(id).unwrap();
    match &t.type_def {
        TypeDef::Composite(c) => {
            for f in &c.fields {
                println!("  {:?}: {:?} #{}", f.name, f.type_name, f.ty.id)
            }
        }
        TypeDef::Variant(v) => {
            for x in &v.variants {
                println!(
                    "  variant {} {:?}",
                    x.name,
                    x.fields
                        .iter()
                        .map(|f| f.type_name.clone())
                        .collect::<Vec<_>>()
                )
            }
        }
        other => println!("  {other:?}"),
    }
}
#[test]
fn explore() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/finney.scale"
    ))
    .unwrap();
    let md = subxt::metadata::Metadata::decode_from(&bytes).unwrap();
    for id in [645u32, 667, 657, 677, 40, 385, 383] {
        println!("TYPE {id} {:?}", md.types().resolve(id).unwrap().path);
        show(&md, id);
    }
    let t = md.types().resolve(667).unwrap();
    if let TypeDef::Variant(v) = &t.type_def {
        let inner = v.variants[1].fields[0].ty.id;
        println!("inner {inner}");
        show(&md, inner);
    }
    let t = md.types().resolve(657).unwrap();
    if let TypeDef::Variant(v) = &t.type_def {
        let inner = v.variants[1].fields[0].ty.id;
        println!("inner {inner}");
        show(&md, inner);
    }
    println!("dispatch err {:?}", md.dispatch_error_ty());
    let sys = md.pallet_by_name("System").unwrap();
    println!(
        "events storage {:?}",
        sys.storage()
            .unwrap()
            .entry_by_name("Events")
            .map(|e| e.value_ty())
    );
}
