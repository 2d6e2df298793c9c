"""Name variant families seen in Sahel records: canonical key, then Latin and Arabic spellings.

One line a family: ``canonical: latin variants | arabic variants``. Spellings are matched after
the same folding the name parser applies, so accents and letter case do not matter here.
"""

GIVEN_AND_FAMILY_NAMES = """
mohamed: mohammed muhammad muhammed mohamad mohammad mouhamed mouhammed mohamet mahomed mahamat mahamad mahammat mahamadou mohamadou mouhamadou muhamad med mhd mohd mohamedou | محمد محمدو
ahmed: ahmad ahmet ahmedou ahmad hmed | أحمد احمد أحمدو
amadou: ahmadou amadu ahmadu hamadou hamadu | امادو حمادو
mahmoud: mahmud mahmood mahmoude mamoudou mahmoudou | محمود
mamadou: mamadu mammadou | ممادو
moustapha: mustapha mustafa moustafa mostapha mostafa | مصطفى
ibrahim: ibrahima brahim ebrahim ibrahime birahim brahima ibrahima | إبراهيم ابراهيم
ismail: ismael ismaila smail ismaël | إسماعيل
issa: isa aissa | عيسى
moussa: musa mousa | موسى
oumar: omar umar oumarou umaru omarou oumaru | عمر
ousmane: usman othman osman outhmane ousman usmane otman oumane | عثمان
abdallah: abdullah abdoullah abdellah abdoulaye abdallahi abdellahi abdoulahi abdulahi abdoulay abdulai | عبدالله
abdou: abdu abdo | عبده
aboubacar: abubakar aboubakar boubacar boubakar aboubakr abubakr bubakar abakar aboubakary abubakr aboubekr | أبوبكر ابوبكر
hamid: hamed hamide | حامد حميد
hamidou: hamidu | حميدو
souleymane: suleiman sulayman soulaymane souleimane sulaiman soleyman slimane sliman suleyman souleyman soulemane | سليمان
yacouba: yacoub yakouba yaqub yakub yaaqoub yacoubou yakoub | يعقوب
youssouf: yusuf youssef yousouf yousef yousuf youssoufa yussuf yusef | يوسف
issoufou: issoufa issifou isoufou issoufi | إسوفو
idrissa: idriss idris drissa driss idrissou | إدريس ادريس
adama: adam adamou adoum | آدم ادم
seydou: saidou seidou sidou seydu | سيدو
said: saeed sayed saeid sayid saad | سعيد
sidi: sidy cidi | سيدي
cheikh: sheikh chaikh cheick shaykh chaykh cheikhna chiekh | شيخ
salif: salifou | ساليف
modibo: | موديبو
bakary: bakari bakar | بكاري
lamine: lamin amine lemine alamine elamine lmine | الأمين أمين امين
mokhtar: moctar moktar mukhtar mouctar mokhtare | مختار
khalil: khalilou | خليل
hassan: hassane hasan alassane alhassane lassana hassana hacen | حسن
hussein: houssein hussain hossein houssaini hussaini ousseini housseini hissein hissene husein housseyn | حسين
ali: aly aliou | علي
zakaria: zakariya zacharia zakari zakariaou | زكريا
haroun: harun aroun harouna | هارون
djibril: jibril jibrin gibril djibrilla djibrine | جبريل
saleh: salih | صالح
salah: | صلاح
khaled: khalid khaleed | خالد
hamza: hamzat | حمزة
bilal: | بلال
iyad: ayad iyyad | إياد اياد
yahya: yahia yaya yehia | يحيى
younous: younouss yunus younes younis | يونس
yassine: yacine yasin yassin | ياسين
tidiane: tijani tidjani tidiani | التجاني تجاني
nouh: nuh nouhou | نوح
lassina: | لاسينا
vall: val | فال
bah: ba | باه
fatimata: fatoumata fatima fatimetou fatma fatouma fatime fatimatou fatuma | فاطمة فاطمه فاطيمتو
aicha: aissata aishatou aichatou aisha aissatou aichetou | عائشة عيشة
aminata: amina aminetou aminatou amna | آمنة أمينة
mariam: mariama mariem maryam mariame meriem maryama | مريم
khadija: khadijetou khadidja kadidja kadiatou hadiza khadijatou | خديجة
zeinab: zeinabou zainab zenabou zeynab zenab | زينب
hawa: awa | حواء
halima: alima halimatou | حليمة
rahmatou: ramatou rahma rahmata | رحمة
safiatou: safia safiya | صفية
rokia: rokiatou rouguiatou ruqayya roukaya rokiya | رقية
salamata: salama | سلامة
hadjara: hajara hajar adjara | هاجر
zahra: zara zahara | زهراء
asma: asmaou asmaa | أسماء
hafsa: hafsatou | حفصة
maimouna: maymuna mamouna maimounatou | ميمونة
traore: traoure trawore | تراوري
toure: ture | توري
keita: kaita | كيتا
coulibaly: kulibali koulibaly coulibali | كوليبالي
diarra: jarra | ديارا
sangare: | سنغاري
maiga: mayga | مايغا
cisse: sisse sise cisset | سيسي
ouedraogo: wedraogo ouedraougou | ويدراوغو
sawadogo: sawadougou savadogo | ساوادوغو
kabore: | كابوري
zongo: | زونغو
compaore: kompaore | كومباوري
ouattara: wattara watara | واتارا
kone: | كوني
sanogo: | سانوغو
dicko: diko dikko | ديكو
diallo: jallow jalloh jallo | جالو ديالو
sall: sal | سال
camara: kamara | كمارا
konate: | كوناتي
dembele: | دمبيلي
deby: debi | ديبي
habre: | حبري
bazoum: | بازوم
goita: | غويتا
kante: | كانتي
ghazouani: ghazwani | غزواني
"""

COMPOUND_ROOTS = """
allah: lah llah lahi llahi ullah oullah allahi ellahi | الله لله
kader: kadir qadir qader kadri gader kadre | قادر
rahman: rahmane rahmaan rahmani | رحمن رحمان
aziz: azize | عزيز
salam: salem salame | سلام
karim: kerim karime krim | كريم
latif: lateef | لطيف
majid: madjid majide | مجيد
wahab: wahhab ouahab | وهاب
hamid: hamide | حميد
jalil: djalil jelil | جليل
razak: razzak razzaq razaq | رزاق
nasser: nasser nacer nasir nasr | ناصر
rahim: rahime | رحيم
malik: malek | مالك
fattah: fatah | فتاح
ghani: gani | غني
hakim: akim | حكيم
jabbar: djabbar jabar | جبار
wahid: ouahid | واحد
samad: samade | صمد
mumin: moumine moumin | مؤمن
kerim: | 
bakr: bakar bacar bakar bekr bakr | بكر
"""

TITLES_LATIN = (
    "elhadj elhadji alhadji alhaji alhadj hadj hadji hajj hadja hadjia cheikh sheikh chaikh cheick shaykh imam dr docteur "
    "colonel col general gal capitaine cne cpt lieutenant lt sergent sgt adjudant adj commandant cdt mr mme mlle monsieur madame "
    "sieur dame prof professeur marabout"
).split()
TITLE_PAIRS_LATIN = {("el", "hadj"), ("el", "hadji"), ("al", "hadji"), ("al", "haji"), ("el", "hadja"), ("al", "hadj")}
TITLES_ARABIC = "الحاج حاج الحاجة الشيخ شيخ الإمام إمام الدكتور د العقيد النقيب الملازم السيد السيدة".split()

SON_OF_LATIN = "ould ouldd wuld wald ould ben bin ibn ag ak ould o".split()
DAUGHTER_OF_LATIN = "mint mnt bint bent welet walet oult ult".split()
SON_OF_ARABIC = "ولد بن ابن أغ اغ آغ اگ".split()
DAUGHTER_OF_ARABIC = "منت بنت".split()
ARTICLES_LATIN = "el al ul ed ad es as et at en an er ar ez az ech ach".split()
